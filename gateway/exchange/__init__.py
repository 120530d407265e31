"""The orchestration between the store and the transports.

`service.Gateway` is the public face; `outbound` (submit, prepare, drain, deliver, settle by a
receipt), `inbound` (the pipeline behind the server's `Inbound` port), `receipts` (build and
read receipts), `receipt_flow` (receipts arriving as messages, ours sent back),
`receipt_deadline`, `retry` (the one retry-or-dead decision), `header` (a message's routing
facts), `directory` (the partner directory) and `polling` (pull-style sources).

Imports: the ground floor, mapping, validation, crypto and the store. Never a concrete
adapter (transports are reached through `gateway.ports`), the backend, operations or the shell.
"""
