// Package keys holds the key material every data-plane replica of a Gateway
// shares: QUIC keying material (nghttpx frontend-quic-secret-file) and TLS
// session ticket keys (tls-ticket-key-file, aes-256-cbc), as the leader keeps
// them in one Secret per Gateway, and the pure rotation of both.
//
// Scheme (both kinds, each on its own period): Ring.Keys[0] encrypts, Keys[1] is
// announced (every replica already decrypts with it), the rest are previous keys,
// newest first. A rotation promotes the announced key, announces a fresh one and
// drops the oldest, so every key is announced one full period before it encrypts
// and stays decryptable for at least one period after it stopped encrypting.
// QUIC keys carry a QUICIDBits-bit id in the top bits of their first byte; ids of
// kept keys are distinct and cycle forever (the announced key takes the id after
// the previous announced key's), and a dropped id is reused only a period later.
//
// Secret format (see Encode/Decode): data "quic-secret" is the exact text of an
// nghttpx QUIC secret file, "tls-ticket-keys" the ticket keys concatenated
// (TicketKeyLen bytes each), both in ring order; annotations
// gateway.nghttpx.dev/quic-rotated-at and gateway.nghttpx.dev/tls-ticket-rotated-at
// (RFC 3339) record the last rotation of each ring, so a new leader resumes the
// schedule. Proxies only need the data.
//
// Contract: pure (no clock, no global randomness: the caller passes time and an
// io.Reader); nothing here talks to the API server.
package keys
