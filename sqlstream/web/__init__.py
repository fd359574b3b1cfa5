"""The live job dashboard: Flink's REST API shapes (``api``), the HTTP server that
serves them and the page (``server``), and the page itself (``static/``)."""
