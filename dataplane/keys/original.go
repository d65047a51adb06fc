package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The original nghttpx Ingress controller's keys Secret (its --nghttpx-secret,
// "nghttpx-km" in the controller's namespace by default), as that controller
// writes and rotates it. Pods of both controllers read the same Secret during a
// migration, so we keep it in exactly its format and rotation scheme:
//
//   - data "nghttpx-tls-ticket-key": ticket keys of OriginalTicketKeyLen bytes
//     (tls-ticket-key-cipher aes-128-cbc), concatenated; 2 to
//     OriginalMaxTicketKeys of them.
//   - data "nghttpx-quic-keying-materials": one 136-digit hex line per key,
//     joined by "\n" without a final newline; 2 to QUICMaxKeys lines with
//     distinct ids (top two bits of the first byte). nghttpx reads it as is
//     (frontend-quic-secret-file).
//   - both lists: [0] encrypts, the last one is announced (every pod decrypts
//     with it before it encrypts), the ones in between are previous keys,
//     newest first. A rotation moves the announced key to the front, keeps the
//     previous ones after it (the oldest dropped at the limit) and appends a
//     fresh announced key; a QUIC key takes the id after the announced one's.
//   - annotations ingress.zlab.co.jp/tls-ticket-key-update-timestamp and
//     ingress.zlab.co.jp/quic-keying-materials-update-timestamp: RFC 3339
//     time of the last rotation. A missing or bad timestamp, or malformed keys,
//     make the original start that kind afresh (two new keys).
const (
	DataOriginalTicketKeys          = "nghttpx-tls-ticket-key"
	DataOriginalQUIC                = "nghttpx-quic-keying-materials"
	AnnotationOriginalTicketUpdated = "ingress.zlab.co.jp/tls-ticket-key-update-timestamp"
	AnnotationOriginalQUICUpdated   = "ingress.zlab.co.jp/quic-keying-materials-update-timestamp"

	// OriginalTicketKeyLen is one aes-128-cbc ticket key: a 16-byte name, a
	// 16-byte AES key and a 16-byte HMAC key.
	OriginalTicketKeyLen = 48
	// OriginalTicketCipher is the tls-ticket-key-cipher those keys need.
	OriginalTicketCipher = "aes-128-cbc"
	// OriginalMaxTicketKeys is how many ticket keys the original keeps.
	OriginalMaxTicketKeys = 12
	// originalMinKeys: both kinds need an announced key next to the
	// encrypting one.
	originalMinKeys = 2
)

// Original is what an original-format keys Secret holds. A nil ring is one
// the Secret lacks or that is malformed (Problems says why).
type Original struct {
	// Tickets are the ticket keys in Secret order, OriginalTicketKeyLen each.
	Tickets [][]byte
	// QUIC are the keying materials in Secret order, QUICKeyLen each.
	QUIC [][]byte
	// TicketsUpdated and QUICUpdated are the annotations' times (zero: none).
	TicketsUpdated, QUICUpdated time.Time
	// Problems lists why a ring was left out.
	Problems []string
}

// ParseOriginalTicketKeys splits the original's ticket keys, checking what the
// original checks: a multiple of OriginalTicketKeyLen, at least two keys (and
// at most OriginalMaxTicketKeys, which it never exceeds). Distinct key names
// are required too: nghttpx picks the decryption key by name.
func ParseOriginalTicketKeys(b []byte) ([][]byte, error) {
	n := len(b) / OriginalTicketKeyLen
	if len(b)%OriginalTicketKeyLen != 0 || n < originalMinKeys || n > OriginalMaxTicketKeys {
		return nil, fmt.Errorf("TLS ticket keys of %d bytes: want %d to %d keys of %d bytes", len(b), originalMinKeys, OriginalMaxTicketKeys, OriginalTicketKeyLen)
	}
	out := make([][]byte, 0, n)
	names := map[string]bool{}
	for i := 0; i < len(b); i += OriginalTicketKeyLen {
		k := bytes.Clone(b[i : i+OriginalTicketKeyLen])
		if names[string(k[:ticketNameLen])] {
			return nil, fmt.Errorf("TLS ticket key %d repeats a key name", i/OriginalTicketKeyLen)
		}
		names[string(k[:ticketNameLen])] = true
		out = append(out, k)
	}
	return out, nil
}

// ParseOriginalQUIC reads the original's QUIC keying materials: lines as
// nghttpx reads them (empty lines and '#' comments skipped, a final newline
// optional), at least two with distinct ids, at most QUICMaxKeys.
func ParseOriginalQUIC(b []byte) ([][]byte, error) {
	k, err := ParseQUICSecretFile(b)
	if err != nil {
		return nil, err
	}
	if len(k) < originalMinKeys {
		return nil, fmt.Errorf("%d QUIC keying material; want at least %d", len(k), originalMinKeys)
	}
	return k, nil
}

// OriginalQUICText is the Secret value of keys: hex lines joined by "\n", as
// the original writes it (no final newline; nghttpx reads it either way).
func OriginalQUICText(keys [][]byte) []byte {
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = hex.EncodeToString(k)
	}
	return []byte(strings.Join(lines, "\n"))
}

// DecodeOriginal reads an original-format Secret; a ring it cannot use is left
// nil with a reason in Problems (RotateOriginal then starts it afresh, as the
// original would).
func DecodeOriginal(data map[string][]byte, annotations map[string]string) Original {
	var o Original
	read := func(keys *[][]byte, at *time.Time, dataKey, ann string, parse func([]byte) ([][]byte, error)) {
		if _, ok := data[dataKey]; !ok {
			o.Problems = append(o.Problems, dataKey+" missing")
			return
		}
		k, err := parse(data[dataKey])
		if err != nil {
			o.Problems = append(o.Problems, fmt.Sprintf("%s: %v", dataKey, err))
			return
		}
		t, err := time.Parse(time.RFC3339, annotations[ann])
		if err != nil {
			o.Problems = append(o.Problems, fmt.Sprintf("annotation %s: %q is not an RFC 3339 time", ann, annotations[ann]))
			return
		}
		*keys, *at = k, t
	}
	read(&o.Tickets, &o.TicketsUpdated, DataOriginalTicketKeys, AnnotationOriginalTicketUpdated, ParseOriginalTicketKeys)
	read(&o.QUIC, &o.QUICUpdated, DataOriginalQUIC, AnnotationOriginalQUICUpdated, ParseOriginalQUIC)
	return o
}

// EncodeOriginal returns the data and annotations that hold o's rings (a nil
// ring is left out). The caller merges them into the Secret and keeps
// everything else in it, as the original does.
func EncodeOriginal(o Original) (data map[string][]byte, annotations map[string]string) {
	data, annotations = map[string][]byte{}, map[string]string{}
	if o.Tickets != nil {
		data[DataOriginalTicketKeys] = bytes.Join(o.Tickets, nil)
		annotations[AnnotationOriginalTicketUpdated] = o.TicketsUpdated.UTC().Format(time.RFC3339)
	}
	if o.QUIC != nil {
		data[DataOriginalQUIC] = OriginalQUICText(o.QUIC)
		annotations[AnnotationOriginalQUICUpdated] = o.QUICUpdated.UTC().Format(time.RFC3339)
	}
	return data, annotations
}

// RotateOriginal returns o at now under the original's scheme: a nil ring is
// created (two fresh keys), a ring whose period has elapsed since its
// timestamp is rotated once (the original never catches up several steps
// either). A zero period never rotates. changed says whether next differs.
// Timestamps are kept to the second, as the annotations hold them.
func RotateOriginal(o Original, now time.Time, p Periods, rnd io.Reader) (next Original, changed bool, err error) {
	now = now.UTC().Truncate(time.Second)
	next = Original{TicketsUpdated: o.TicketsUpdated, QUICUpdated: o.QUICUpdated, Tickets: o.Tickets, QUIC: o.QUIC}
	due := func(at time.Time, period time.Duration) bool {
		return period > 0 && !now.Before(at.Add(period))
	}
	switch {
	case o.Tickets == nil:
		if next.Tickets, err = newOriginalRing(rnd, newOriginalTicketKey); err != nil {
			return o, false, err
		}
		next.TicketsUpdated, changed = now, true
	case due(o.TicketsUpdated, p.Tickets):
		if next.Tickets, err = extendOriginal(o.Tickets, OriginalMaxTicketKeys, rnd, newOriginalTicketKey); err != nil {
			return o, false, err
		}
		next.TicketsUpdated, changed = now, true
	}
	switch {
	case o.QUIC == nil:
		if next.QUIC, err = newOriginalRing(rnd, newOriginalQUICKey); err != nil {
			return o, false, err
		}
		next.QUICUpdated, changed = now, true
	case due(o.QUICUpdated, p.QUIC):
		if next.QUIC, err = extendOriginal(o.QUIC, QUICMaxKeys, rnd, newOriginalQUICKey); err != nil {
			return o, false, err
		}
		next.QUICUpdated, changed = now, true
	}
	return next, changed, nil
}

// NextOriginalRotation is when RotateOriginal will next change o (zero: never).
func NextOriginalRotation(o Original, p Periods) time.Time {
	var next time.Time
	for _, x := range []struct {
		at     time.Time
		period time.Duration
	}{{o.TicketsUpdated, p.Tickets}, {o.QUICUpdated, p.QUIC}} {
		if x.period <= 0 {
			continue
		}
		if at := x.at.Add(x.period); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// newKeyFunc returns a fresh key to follow prev (the announced key it will sit
// behind; nil for the first key of a ring) that clashes with none of ring.
type newKeyFunc func(rnd io.Reader, prev []byte, ring [][]byte) ([]byte, error)

// newOriginalRing is a fresh ring: the encrypting key and the announced one.
func newOriginalRing(rnd io.Reader, gen newKeyFunc) ([][]byte, error) {
	first, err := gen(rnd, nil, nil)
	if err != nil {
		return nil, err
	}
	second, err := gen(rnd, first, [][]byte{first})
	if err != nil {
		return nil, err
	}
	return [][]byte{first, second}, nil
}

// extendOriginal is one rotation of ring (at least two keys): the announced
// (last) key encrypts, the previous encrypting key and older ones follow up to
// max-1 keys, and a fresh key is announced at the end.
func extendOriginal(ring [][]byte, max int, rnd io.Reader, gen newKeyFunc) ([][]byte, error) {
	if len(ring) < originalMinKeys {
		return nil, errors.New("a ring to rotate needs at least two keys")
	}
	announced := ring[len(ring)-1]
	kept := [][]byte{announced}
	for _, k := range ring[:len(ring)-1] {
		if len(kept) == max-1 {
			break
		}
		kept = append(kept, k)
	}
	fresh, err := gen(rnd, announced, kept)
	if err != nil {
		return nil, err
	}
	return append(kept, fresh), nil
}

// newOriginalTicketKey is a random aes-128-cbc ticket key whose name no key of
// ring has.
func newOriginalTicketKey(rnd io.Reader, _ []byte, ring [][]byte) ([]byte, error) {
	for range 8 {
		k := make([]byte, OriginalTicketKeyLen)
		if _, err := io.ReadFull(rnd, k); err != nil {
			return nil, fmt.Errorf("random TLS ticket key: %w", err)
		}
		clash := false
		for _, x := range ring {
			clash = clash || bytes.Equal(x[:ticketNameLen], k[:ticketNameLen])
		}
		if !clash {
			return k, nil
		}
	}
	return nil, errors.New("random TLS ticket key names keep clashing: broken random source")
}

// newOriginalQUICKey is random keying material whose id follows prev's (0 for
// the first key of a ring), as the original assigns ids. Under the original's
// scheme that id is always free among the kept keys; a Secret rotated some
// other way (older releases put the new key first) may hold it, and then the
// next free id is taken, since nghttpx tells keys apart by id.
func newOriginalQUICKey(rnd io.Reader, prev []byte, ring [][]byte) ([]byte, error) {
	k := make([]byte, QUICKeyLen)
	if _, err := io.ReadFull(rnd, k); err != nil {
		return nil, fmt.Errorf("random QUIC key: %w", err)
	}
	id := 0
	if prev != nil {
		id = (QUICID(prev) + 1) % QUICMaxKeys
	}
	for range QUICMaxKeys {
		used := false
		for _, x := range ring {
			used = used || QUICID(x) == id
		}
		if !used {
			k[0] = byte(id)<<(8-QUICIDBits) | k[0]&(0xff>>QUICIDBits)
			return k, nil
		}
		id = (id + 1) % QUICMaxKeys
	}
	return nil, fmt.Errorf("no free QUIC key id among %d keys", len(ring))
}
