"""Backend integration: how the administration's own systems hand messages in and get them out.

`api/` (the REST API: submit, status, inbound, ack), `tokens` (API tokens and scopes),
`webhooks` and `webhook_queue` (pushed events), `dropfolder` (outbound and inbound folders),
`routes` (which route a received message takes to the backend).

Imports: everything below it (ground floor, mapping, validation, crypto, store, exchange),
the server's HTTP helpers and the folder transport's file handling (`adapters.folder`);
never operations or the shell.
"""
