-- String functions over strs(id, s STRING, t STRING, n INT): ordinary text, '', 'ß straße',
-- padding blanks, separators, NULL, CJK, digits, mixed case.
-- from: strs
UPPER(s)
LOWER(s)
INITCAP(s)
CHAR_LENGTH(s)
CHARACTER_LENGTH(s)
TRIM(s)
LTRIM(s)
RTRIM(s)
TRIM(BOTH 'a' FROM s)
TRIM(LEADING ' ' FROM s)
TRIM(TRAILING ' ' FROM s)
CONCAT(s, t)
CONCAT(s, '-', t)
s || t
s || 'x'
DPIPE(s, t)
CONCAT_WS('|', s, t)
CONCAT_WS(t, 'a', 'b')
CONCAT_WS('|', s, CAST(NULL AS STRING), t)
SUBSTRING(s, 2)
SUBSTRING(s, 2, 3)
SUBSTRING(s, 0, 2)
SUBSTRING(s, -3)
SUBSTRING(s, n)
SUBSTRING(s FROM 2 FOR 3)
SUBSTR(s, 2)
SUBSTR(s, 2, 3)
REPLACE(s, t, 'X')
REPLACE(s, 'l', '')
REPLACE(s, '', 'X')
POSITION(t IN s)
POSITION('z' IN s)
LOCATE(t, s)
LOCATE(t, s, 3)
INSTR(s, t)
LPAD(s, 5, '*')
LPAD(s, n, '*')
LPAD(s, 3, '')
RPAD(s, 5, '*')
RPAD(s, n, 'ab')
REPEAT(s, 2)
REPEAT(s, n)
REVERSE(s)
LEFT(s, 2)
LEFT(s, n)
RIGHT(s, 2)
RIGHT(s, n)
OVERLAY(s PLACING 'XY' FROM 2)
OVERLAY(s PLACING 'XY' FROM 2 FOR 1)
OVERLAY(s PLACING t FROM 1 FOR 0)
SPLIT_INDEX(s, t, 0)
SPLIT_INDEX(s, ',', 1)
SPLIT_INDEX(s, ',', 2)
SPLIT_INDEX(s, ',', 10)
SPLIT_INDEX(s, ' ', -1)
SPLIT_INDEX(s, ',', -2)
SPLIT_INDEX(s, ',', 0)
SPLIT_INDEX(s, '', 1)
SPLIT_INDEX(s, t, n)
SPLIT_INDEX(s, 'ß', 1)
ASCII(s)
CHR(n + 64)
MD5(s)
SHA1(s)
SHA256(s)
SHA2(s, 256)
HASH_CODE(s)
TO_BASE64(s)
FROM_BASE64(TO_BASE64(s))
FROM_BASE64('aGVsbG8=')
ENCODE(s, 'UTF-8')
DECODE(ENCODE(s, 'UTF-8'), 'UTF-8')
HEX(s)
BIN(n)
IS_DIGIT(s)
IS_ALPHA(s)
IS_DECIMAL(s)
STARTSWITH(s, t)
ENDSWITH(s, t)
s LIKE '%o%'
s LIKE 'H_llo%'
s NOT LIKE '%o%'
s LIKE t
s SIMILAR TO '[a-z ]+'
s SIMILAR TO '%(o|ß)%'
s = t
s <> t
s < t
s > ''
s IN ('', '123', 'Hello World')
s BETWEEN 'a' AND 'z'
s IS NULL
s IS NOT NULL
COALESCE(s, 'dflt')
NULLIF(s, '')
IF(s = '', 'empty', s)
CASE WHEN s = '' THEN 'empty' WHEN s IS NULL THEN 'null' ELSE 'text' END
CASE s WHEN '' THEN 0 WHEN '123' THEN 1 ELSE 2 END
GREATEST(s, t)
LEAST(s, t)
STR_TO_MAP('a=1,b=2')
STR_TO_MAP(s)
STR_TO_MAP(s, ',', '=')
SPLIT(s, t)
SPLIT(s, ',')
SPLIT(s, ',')[1]
SPLIT(s, ',')[5]
CARDINALITY(SPLIT(s, ','))
UUID() IS NOT NULL
CHAR_LENGTH(UUID())
TRANSLATE(s, 'lo', 'LO')
ELT(2, s, t)
PRINTF('%s-%d', s, n)
SUBSTRING_INDEX(s, t, 1)
LEVENSHTEIN(s, t)
URL_ENCODE(s)
URL_DECODE(s)
BTRIM(s)
REGEXP_COUNT(s, 'o')
SELECT COUNT(*), COUNT(s), COUNT(DISTINCT s), MIN(s), MAX(s) FROM strs
