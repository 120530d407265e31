"""The operators' console and the clerks' digital mailbox, served by `gateway serve` at /console/.

`accounts` (users with roles operator/clerk/auditor, argon2id password hashes), `sessions`
(cookie sessions with a CSRF token each), `throttle` (failed logins per account and per
address), `i18n` (German and English labels), `units` (which inbound messages reach which
clerks), `record_view` (any message type's record as labelled fields, from its schema),
`xml_view` (pretty-printed, highlighted XML, escaped), `answers` (the registry office's answer
to a birth-certificate application), `status` (the dashboard's figures), `web` (the aiohttp
application: security headers, authentication, CSRF) with the pages in `operator_pages`,
`mailbox_pages` and `login_pages`; Jinja2 templates and the stylesheet ship in `templates/`
and `static/` (no CDN, no external font, no script).

Imports: everything below the shell (ground floor, mapping, validation, crypto, store,
exchange, server, backend, adapters.folder, operations); never the shell (bootstrap, cli,
commands, demo).
"""
