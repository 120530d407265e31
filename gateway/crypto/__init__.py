"""Signatures, trust, keys and TLS: everything that proves who wrote a message.

`dsig` checks a signature's shape before any cryptography; `signing` signs and verifies
(XML-DSig, optionally `xades`) with the `algorithms` allowed; `trust` decides whose key is
trusted for a partner (pinned certificates or a CA with its `crl`); `keys` is our key ring,
`devca` makes development keys, `expiry` lists certificates close to expiry, `tls` builds the
TLS contexts of server and senders. `encryption` encrypts for a recipient and decrypts (XML
Encryption 1.1: sign then encrypt), `recipients` loads partners' encryption certificates and
our decryption keys.

Imports: the ground floor only (errors, model, ports, xml, files, resources, config) and
mapping/validation; never the store, exchange, backend, operations or the shell.
"""
