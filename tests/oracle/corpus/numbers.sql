-- Arithmetic, integer overflow (Flink wraps as Java does), zero divisors, rounding, math
-- functions over nums(id, i INT, b BIGINT, d DECIMAL(10, 2), f DOUBLE, j INT (no zero),
-- z INT (0 or NULL), si SMALLINT, ti TINYINT, r FLOAT), rows with 7/-7/0/max/min/NULL.
-- from: nums
i + 1
i + i
i - 1
i * 2
i * i
-i
b + 1
b * 2
b - 1
-b
i + b
si + si
ti + ti
ti * 2
si * si
i / j
i / 2
b / j
i % j
MOD(i, j)
MOD(b, 3)
MOD(-7, 3)
i / z
b / z
i % z
MOD(i, z)
d / z
f / z
i / 0
i / NULLIF(z, 0)
i + d
i * d
d + 1
d + d
d - 1
d * d
d * 2
d / 7
d / d
d / j
d * f
d + f
i + f
i / f
f / 0
-f / 0
0.0 / 0
f * f
f + 1
r + r
r * 2
r + f
i + r
ABS(i)
ABS(b)
ABS(d)
ABS(f)
ABS(si)
ABS(ti)
SIGN(i)
SIGN(d)
SIGN(f)
FLOOR(d)
CEIL(d)
CEILING(d)
FLOOR(f)
CEIL(f)
FLOOR(i)
ROUND(d)
ROUND(d, 1)
ROUND(d, -1)
ROUND(f)
ROUND(f, 1)
ROUND(i, -1)
ROUND(b, -2)
TRUNCATE(d, 1)
TRUNCATE(f, 0)
TRUNCATE(i, -1)
SQRT(f)
SQRT(i)
SQRT(d)
POWER(i, 2)
POWER(f, 0.5)
POWER(d, 2)
POW(2, j)
EXP(j)
LN(f)
LN(i)
LN(0)
LOG10(i)
LOG10(f)
LOG2(i)
LOG(i)
LOG(2, i)
SIN(f)
COS(f)
TAN(f)
ASIN(f)
ACOS(f)
ATAN(f)
ATAN2(f, j)
COT(f)
SINH(f)
COSH(j)
TANH(f)
DEGREES(f)
RADIANS(f)
CBRT(f)
PI()
E()
RAND(j) >= 0
RAND_INTEGER(j, 10) >= 0
GREATEST(i, j)
GREATEST(i, j, z)
GREATEST(i, CAST(NULL AS INT))
LEAST(i, j)
LEAST(d, 1)
LEAST(f, i)
GREATEST(b, i)
HEX(i)
HEX(b)
BIN(b)
i = j
i <> j
i < d
f = d
i BETWEEN -1 AND 10
i IN (0, 7, NULL)
i NOT IN (0, 7)
i IS DISTINCT FROM j
i IS NOT DISTINCT FROM CAST(NULL AS INT)
COALESCE(i, b)
COALESCE(i, d)
COALESCE(f, i)
NULLIF(i, 0)
IF(i > 0, i, b)
IF(i > 0, d, f)
CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' END
CASE WHEN i > 0 THEN i ELSE d END
2147483647 + 1
-2147483648 - 1
9223372036854775807 + 1
2147483647 * 2
CAST(2147483647 AS BIGINT) + 1
99999999.99 + 1
99999999.99 * 10
1.5 + 1
7 / 2
-7 / 2
7.0 / 2
1 / 3.0
1.0 / 3
10 % 3
-10 % 3
SELECT SUM(i), SUM(b), SUM(d), SUM(f) FROM nums
9223372036854775808
-9223372036854775808
9223372036854775808 + i
12345678901234567890123 * 2
b + 9223372036854775808
99999999999999999999999999999999999999
123456789012345678901234567890123456789
1.23456789012345678901234567890123456789
0.12345678901234567890
-9223372036854775809
