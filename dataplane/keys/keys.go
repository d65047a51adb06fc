package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// nghttpx 1.52 facts (src/shrpx_config.cc read_quic_secret_file, doc/nghttpx.1.rst).
const (
	// QUICIDBits is how many top bits of a QUIC keying material's first byte
	// identify it. nghttpx 1.52 uses 2 (mask 0xc0); later releases use 3.
	QUICIDBits = 2
	// QUICMaxKeys is how many keying materials nghttpx reads from the file; the
	// rest is ignored.
	QUICMaxKeys = 1 << QUICIDBits
	// QUICKeyLen is the decoded length of one line: 4 reserved bytes (holding
	// the id), a 32-byte secret and a 32-byte salt.
	QUICKeyLen = 68
	// QUICKeep is how many QUIC keys a ring holds: encrypting, announced,
	// previous. One id stays free, so an id is reused a period after its key
	// was dropped, never at once.
	QUICKeep = QUICMaxKeys - 1

	// TicketKeyLen is one tls-ticket-key-file with tls-ticket-key-cipher
	// aes-256-cbc: a 16-byte key name, a 32-byte AES key, a 32-byte HMAC key.
	TicketKeyLen = 80
	// ticketNameLen is the key name nghttpx matches a ticket against.
	ticketNameLen = 16
	// TicketKeep: encrypting, announced and two previous keys.
	TicketKeep = 4
)

// A ring must keep at least three keys (encrypting, announced, previous) and
// QUIC must leave one id free; these fail to compile otherwise.
const (
	_ = uint(QUICMaxKeys - QUICKeep - 1)
	_ = uint(QUICKeep - 3)
	_ = uint(TicketKeep - 3)
)

// Ring is the keys of one kind. Keys[0] encrypts, Keys[1] is announced, the
// rest are previous keys, newest first.
type Ring struct {
	Keys [][]byte
	// RotatedAt is when the ring was created or last rotated.
	RotatedAt time.Time
}

// State is what the keys Secret holds.
type State struct {
	QUIC    Ring
	Tickets Ring
}

// Periods are the rotation periods; zero never rotates (keys are still created).
type Periods struct {
	QUIC, Tickets time.Duration
}

// kind describes one sort of key.
type kind struct {
	name string
	keep int
	// generate returns a new key that does not clash with keep (the keys the
	// ring will hold next to it) and preferably not with avoid either.
	generate func(rnd io.Reader, keep, avoid [][]byte) ([]byte, error)
	// check reports why a single key is malformed.
	check func(k []byte) error
	// ident is what must be distinct among a ring's keys.
	ident func(k []byte) string
}

func quicKind() kind {
	return kind{
		name: "QUIC", keep: QUICKeep,
		generate: newQUICKey,
		check: func(k []byte) error {
			if len(k) != QUICKeyLen {
				return fmt.Errorf("QUIC key of %d bytes, want %d", len(k), QUICKeyLen)
			}
			return nil
		},
		ident: func(k []byte) string { return fmt.Sprint(QUICID(k)) },
	}
}

func ticketKind() kind {
	return kind{
		name: "TLS ticket", keep: TicketKeep,
		generate: newTicketKey,
		check: func(k []byte) error {
			if len(k) != TicketKeyLen {
				return fmt.Errorf("TLS ticket key of %d bytes, want %d", len(k), TicketKeyLen)
			}
			return nil
		},
		ident: func(k []byte) string { return string(k[:ticketNameLen]) },
	}
}

// Rotate returns the state at now: a missing or malformed ring is created afresh
// (encrypting and announced key); a ring whose period elapsed since RotatedAt is
// rotated once (never several steps at a time, so the new encrypting key is
// always one that was announced for a full period). changed says whether next
// differs from s. A RotatedAt more than a period in the future (a clock jump)
// restarts the period at now.
func Rotate(s State, now time.Time, p Periods, rnd io.Reader) (next State, changed bool, err error) {
	q, qc, err := quicKind().rotate(s.QUIC, now, p.QUIC, rnd)
	if err != nil {
		return s, false, err
	}
	t, tc, err := ticketKind().rotate(s.Tickets, now, p.Tickets, rnd)
	if err != nil {
		return s, false, err
	}
	return State{QUIC: q, Tickets: t}, qc || tc, nil
}

// NextRotation is when Rotate will next change s: the earliest end of a
// period; the zero time when neither ring rotates.
func NextRotation(s State, p Periods) time.Time {
	var next time.Time
	for _, x := range []struct {
		r      Ring
		period time.Duration
	}{{s.QUIC, p.QUIC}, {s.Tickets, p.Tickets}} {
		if x.period <= 0 {
			continue
		}
		at := x.r.RotatedAt.Add(x.period)
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

func (k kind) rotate(r Ring, now time.Time, period time.Duration, rnd io.Reader) (Ring, bool, error) {
	if k.validate(r) != nil || r.RotatedAt.IsZero() {
		cur, err := k.generate(rnd, nil, nil)
		if err != nil {
			return r, false, err
		}
		next, err := k.generate(rnd, [][]byte{cur}, nil)
		if err != nil {
			return r, false, err
		}
		return Ring{Keys: [][]byte{cur, next}, RotatedAt: now}, true, nil
	}
	if period <= 0 {
		return r, false, nil
	}
	if r.RotatedAt.After(now.Add(period)) {
		return Ring{Keys: r.Keys, RotatedAt: now}, true, nil
	}
	if now.Before(r.RotatedAt.Add(period)) {
		return r, false, nil
	}
	// The announced key encrypts; the old encrypting key and the newest
	// previous ones stay to decrypt.
	kept := append([][]byte{r.Keys[1], nil, r.Keys[0]}, r.Keys[2:]...)
	kept = kept[:min(len(kept), k.keep)]
	others := slices.Concat(kept[:1], kept[2:])
	fresh, err := k.generate(rnd, others, r.Keys)
	if err != nil {
		return r, false, err
	}
	kept[1] = fresh
	return Ring{Keys: kept, RotatedAt: now}, true, nil
}

// validate reports why a ring cannot be rotated as it is.
func (k kind) validate(r Ring) error {
	if len(r.Keys) < 2 || len(r.Keys) > k.keep {
		return fmt.Errorf("%s ring of %d keys, want 2 to %d", k.name, len(r.Keys), k.keep)
	}
	seen := map[string]bool{}
	for i, key := range r.Keys {
		if err := k.check(key); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		id := k.ident(key)
		if seen[id] {
			return fmt.Errorf("%s keys %d and an earlier one share an id", k.name, i)
		}
		seen[id] = true
	}
	return nil
}

// QUICID is the id nghttpx reads from a QUIC keying material.
func QUICID(k []byte) int {
	return int(k[0] >> (8 - QUICIDBits))
}

// newQUICKey returns random keying material whose id is the first after
// keep[0]'s (the key that will encrypt) that neither keep nor avoid (the keys
// of the ring before the rotation) use, or failing that, the first keep does not.
func newQUICKey(rnd io.Reader, keep, avoid [][]byte) ([]byte, error) {
	k := make([]byte, QUICKeyLen)
	if _, err := io.ReadFull(rnd, k); err != nil {
		return nil, fmt.Errorf("random QUIC key: %w", err)
	}
	if len(keep) == 0 {
		return k, nil // any id
	}
	used := func(set [][]byte, id int) bool {
		return slices.ContainsFunc(set, func(x []byte) bool { return QUICID(x) == id })
	}
	// Start after the id of the key that encrypts next to it: ids then cycle
	// 0, 1, 2, 3, 0, ...
	newest := QUICID(keep[0])
	id := -1
	for _, set := range [][][]byte{append(slices.Clone(keep), avoid...), keep} {
		for d := 1; d <= QUICMaxKeys && id < 0; d++ {
			if c := (newest + d) % QUICMaxKeys; !used(set, c) {
				id = c
			}
		}
		if id >= 0 {
			break
		}
	}
	if id < 0 {
		return nil, fmt.Errorf("no free QUIC key id among %d kept keys", len(keep))
	}
	k[0] = byte(id)<<(8-QUICIDBits) | k[0]&(0xff>>QUICIDBits)
	return k, nil
}

// newTicketKey returns a random ticket key whose name no kept key has.
func newTicketKey(rnd io.Reader, keep, avoid [][]byte) ([]byte, error) {
	for range 8 {
		k := make([]byte, TicketKeyLen)
		if _, err := io.ReadFull(rnd, k); err != nil {
			return nil, fmt.Errorf("random TLS ticket key: %w", err)
		}
		clash := func(x []byte) bool { return bytes.Equal(x[:ticketNameLen], k[:ticketNameLen]) }
		if !slices.ContainsFunc(keep, clash) && !slices.ContainsFunc(avoid, clash) {
			return k, nil
		}
	}
	return nil, errors.New("random TLS ticket key names keep clashing: broken random source")
}

// QUICSecretFile is the content of an nghttpx frontend-quic-secret-file: one
// hex line per key, the encrypting key first.
func QUICSecretFile(keys [][]byte) []byte {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(hex.EncodeToString(k))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// ParseQUICSecretFile reads what QUICSecretFile writes, strictly: nghttpx
// would silently fall back to its own random keys on a bad line, so a proxy
// must refuse it instead. Empty lines and '#' comments are skipped as nghttpx
// does.
func ParseQUICSecretFile(b []byte) ([][]byte, error) {
	var out [][]byte
	ids := map[int]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if len(line) != 2*QUICKeyLen {
			return nil, fmt.Errorf("QUIC secret line %d: %d characters, want %d hex digits", i+1, len(line), 2*QUICKeyLen)
		}
		k, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("QUIC secret line %d: %w", i+1, err)
		}
		if ids[QUICID(k)] {
			return nil, fmt.Errorf("QUIC secret line %d: id %d used twice", i+1, QUICID(k))
		}
		ids[QUICID(k)] = true
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no QUIC keying material")
	}
	if len(out) > QUICMaxKeys {
		return nil, fmt.Errorf("%d QUIC keying materials; nghttpx reads only %d", len(out), QUICMaxKeys)
	}
	return out, nil
}

// TicketKeys joins ticket keys as the Secret stores them.
func TicketKeys(keys [][]byte) []byte { return bytes.Join(keys, nil) }

// ParseTicketKeys splits what TicketKeys joined; each key is the content of
// one tls-ticket-key-file, the encrypting key first.
func ParseTicketKeys(b []byte) ([][]byte, error) {
	if len(b) == 0 || len(b)%TicketKeyLen != 0 {
		return nil, fmt.Errorf("TLS ticket keys of %d bytes: want a non-zero multiple of %d", len(b), TicketKeyLen)
	}
	var out [][]byte
	names := map[string]bool{}
	for i := 0; i < len(b); i += TicketKeyLen {
		k := bytes.Clone(b[i : i+TicketKeyLen])
		if names[string(k[:ticketNameLen])] {
			return nil, fmt.Errorf("TLS ticket key %d repeats a key name", i/TicketKeyLen)
		}
		names[string(k[:ticketNameLen])] = true
		out = append(out, k)
	}
	return out, nil
}

// The keys Secret.
const (
	DataQUICSecret            = "quic-secret"
	DataTLSTicketKeys         = "tls-ticket-keys"
	AnnotationQUICRotatedAt   = "gateway.nghttpx.dev/quic-rotated-at"
	AnnotationTicketRotatedAt = "gateway.nghttpx.dev/tls-ticket-rotated-at"
)

// Encode returns the Secret data and annotations that hold s.
func Encode(s State) (data map[string][]byte, annotations map[string]string) {
	data = map[string][]byte{
		DataQUICSecret:    QUICSecretFile(s.QUIC.Keys),
		DataTLSTicketKeys: TicketKeys(s.Tickets.Keys),
	}
	annotations = map[string]string{
		AnnotationQUICRotatedAt:   s.QUIC.RotatedAt.UTC().Format(time.RFC3339Nano),
		AnnotationTicketRotatedAt: s.Tickets.RotatedAt.UTC().Format(time.RFC3339Nano),
	}
	return data, annotations
}

// Decode reads a keys Secret. A ring it cannot read is left empty (Rotate then
// creates it afresh) and the error says why.
func Decode(data map[string][]byte, annotations map[string]string) (State, error) {
	var s State
	var errs []error
	read := func(r *Ring, k kind, dataKey, ann string, parse func([]byte) ([][]byte, error)) {
		keys, err := parse(data[dataKey])
		if err == nil {
			err = k.validate(Ring{Keys: keys})
		}
		var at time.Time
		if err == nil {
			at, err = time.Parse(time.RFC3339Nano, annotations[ann])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dataKey, err))
			return
		}
		*r = Ring{Keys: keys, RotatedAt: at}
	}
	read(&s.QUIC, quicKind(), DataQUICSecret, AnnotationQUICRotatedAt, ParseQUICSecretFile)
	read(&s.Tickets, ticketKind(), DataTLSTicketKeys, AnnotationTicketRotatedAt, ParseTicketKeys)
	return s, errors.Join(errs...)
}
