package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func seeded(n byte) *rand.ChaCha8 {
	var seed [32]byte
	seed[0] = n
	return rand.NewChaCha8(seed)
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// life is what the simulation saw of one key.
type life struct {
	firstSeen, encryptFrom, encryptTo, droppedAt time.Time
	encrypted, stopped, dropped                  bool
}

// TestRotateForever rotates both rings far beyond the 12 keys after which the
// original nghttpx Ingress controller stopped, passing the state through the
// Secret encoding at every step as the controller does, and checks the scheme's
// promises on every key.
func TestRotateForever(t *testing.T) {
	const period = time.Hour
	const steps = 4 * 45 // four calls per period, 45 periods
	rnd := seeded(1)
	p := Periods{QUIC: period, Tickets: period}
	var data map[string][]byte
	var ann map[string]string
	lives := map[string]map[string]*life{"quic": {}, "tickets": {}}
	rotations := map[string]int{}
	quicIDs := map[int]bool{}
	var now time.Time
	for i := 0; i < steps; i++ {
		now = t0.Add(time.Duration(i) * period / 4)
		s, err := Decode(data, ann)
		if i > 0 && err != nil {
			t.Fatalf("step %d: decode what we encoded: %v", i, err)
		}
		next, changed, err := Rotate(s, now, p, rnd)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		// A rotation happens exactly when a period ended (and at creation).
		wantChange := i%4 == 0
		if changed != wantChange {
			t.Fatalf("step %d (%s): changed=%v, want %v", i, now.Sub(t0), changed, wantChange)
		}
		if changed && i > 0 {
			rotations["quic"]++
			rotations["tickets"]++
		}
		data, ann = Encode(next)

		// File formats as nghttpx reads them.
		qf := data[DataQUICSecret]
		lines := strings.Split(strings.TrimSuffix(string(qf), "\n"), "\n")
		if len(lines) > QUICMaxKeys || len(lines) < 2 {
			t.Fatalf("step %d: %d QUIC lines", i, len(lines))
		}
		ids := map[int]bool{}
		for _, l := range lines {
			if len(l) != 136 {
				t.Fatalf("step %d: QUIC line of %d characters", i, len(l))
			}
			b, err := hex.DecodeString(l)
			if err != nil {
				t.Fatal(err)
			}
			id := int(b[0] >> 6) // nghttpx 1.52: reserved[0] & 0xc0
			if ids[id] {
				t.Fatalf("step %d: QUIC id %d twice in %q", i, id, qf)
			}
			ids[id] = true
			quicIDs[id] = true
		}
		if n := len(data[DataTLSTicketKeys]); n%80 != 0 || n/80 > TicketKeep || n/80 < 2 {
			t.Fatalf("step %d: ticket keys of %d bytes", i, n)
		}

		for kind, ring := range map[string]Ring{"quic": next.QUIC, "tickets": next.Tickets} {
			present := map[string]bool{}
			for j, k := range ring.Keys {
				h := hex.EncodeToString(k)
				present[h] = true
				l := lives[kind][h]
				if l == nil {
					l = &life{firstSeen: now}
					lives[kind][h] = l
					if j != 1 && i > 0 {
						t.Fatalf("step %d: new %s key at position %d; new keys must be announced (position 1)", i, kind, j)
					}
				}
				if j == 0 && !l.encrypted {
					l.encrypted, l.encryptFrom = true, now
				}
				if j != 0 && l.encrypted && !l.stopped {
					l.stopped, l.encryptTo = true, now
				}
			}
			for h, l := range lives[kind] {
				if present[h] || l.dropped {
					continue
				}
				if l.encrypted && !l.stopped {
					t.Fatalf("step %d: %s key dropped while encrypting", i, kind)
				}
				l.dropped, l.droppedAt = true, now
			}
		}
	}
	for kind, n := range rotations {
		if n < 40 {
			t.Errorf("%s: %d rotations, want at least 40", kind, n)
		}
	}
	if len(quicIDs) != QUICMaxKeys {
		t.Errorf("QUIC ids used %v: ids must cycle through all %d", quicIDs, QUICMaxKeys)
	}
	for kind, ls := range lives {
		encrypted, dropped := 0, 0
		for h, l := range ls {
			if !l.encrypted {
				continue
			}
			encrypted++
			if l.encryptFrom.After(t0) && l.encryptFrom.Sub(l.firstSeen) < period {
				t.Errorf("%s key %.8s encrypted %s after it was announced, want at least %s", kind, h, l.encryptFrom.Sub(l.firstSeen), period)
			}
			if l.dropped && l.droppedAt.Sub(l.encryptTo) < period {
				t.Errorf("%s key %.8s decryptable only %s after it stopped encrypting, want at least %s", kind, h, l.droppedAt.Sub(l.encryptTo), period)
			}
			if l.dropped {
				dropped++
			}
		}
		if encrypted < 41 || dropped < 38 {
			t.Errorf("%s: %d keys encrypted and %d dropped over %d periods", kind, encrypted, dropped, steps/4)
		}
	}
}

func TestRotateZeroPeriodCreatesOnly(t *testing.T) {
	s, changed, err := Rotate(State{}, t0, Periods{}, seeded(2))
	if err != nil || !changed {
		t.Fatalf("creation: changed=%v err=%v", changed, err)
	}
	if len(s.QUIC.Keys) != 2 || len(s.Tickets.Keys) != 2 {
		t.Fatalf("new rings hold %d QUIC and %d ticket keys, want 2 each", len(s.QUIC.Keys), len(s.Tickets.Keys))
	}
	s2, changed, err := Rotate(s, t0.Add(1000*time.Hour), Periods{}, seeded(3))
	if err != nil || changed {
		t.Fatalf("period 0 rotated: changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(s2.QUIC.Keys[0], s.QUIC.Keys[0]) {
		t.Error("keys changed without rotation")
	}
	if !NextRotation(s, Periods{}).IsZero() {
		t.Error("NextRotation without periods is not zero")
	}
}

// After a long outage the ring rotates once: the announced key encrypts, and
// the next one waits a full period again.
func TestRotateOnceAfterGap(t *testing.T) {
	p := Periods{QUIC: time.Hour, Tickets: 2 * time.Hour}
	s, _, _ := Rotate(State{}, t0, p, seeded(4))
	if got := NextRotation(s, p); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextRotation %s, want %s", got, t0.Add(time.Hour))
	}
	late := t0.Add(10 * time.Hour)
	s2, changed, err := Rotate(s, late, p, seeded(5))
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(s2.QUIC.Keys[0], s.QUIC.Keys[1]) || !bytes.Equal(s2.QUIC.Keys[2], s.QUIC.Keys[0]) {
		t.Error("QUIC: the announced key must encrypt and the old one follow the new announced key")
	}
	if !s2.QUIC.RotatedAt.Equal(late) || !s2.Tickets.RotatedAt.Equal(late) {
		t.Errorf("rotated at %s/%s, want %s", s2.QUIC.RotatedAt, s2.Tickets.RotatedAt, late)
	}
	if _, changed, _ := Rotate(s2, late.Add(59*time.Minute), p, seeded(6)); changed {
		t.Error("rotated again before a period passed")
	}
}

func TestRotateOnlyDueRing(t *testing.T) {
	p := Periods{QUIC: time.Hour, Tickets: 3 * time.Hour}
	s, _, _ := Rotate(State{}, t0, p, seeded(7))
	s2, changed, _ := Rotate(s, t0.Add(time.Hour), p, seeded(8))
	if !changed || bytes.Equal(s2.QUIC.Keys[0], s.QUIC.Keys[0]) {
		t.Error("QUIC did not rotate after its period")
	}
	if !bytes.Equal(TicketKeys(s2.Tickets.Keys), TicketKeys(s.Tickets.Keys)) || !s2.Tickets.RotatedAt.Equal(t0) {
		t.Error("tickets rotated before their period")
	}
}

func TestRotateClockJump(t *testing.T) {
	p := Periods{QUIC: time.Hour, Tickets: time.Hour}
	s, _, _ := Rotate(State{}, t0.Add(100*time.Hour), p, seeded(9)) // written by a leader whose clock ran ahead
	s2, changed, _ := Rotate(s, t0, p, seeded(10))
	if !changed || !s2.QUIC.RotatedAt.Equal(t0) || !bytes.Equal(s2.QUIC.Keys[0], s.QUIC.Keys[0]) {
		t.Errorf("a rotation time far in the future must restart the period without changing keys (changed=%v at %s)", changed, s2.QUIC.RotatedAt)
	}
}

func TestDecodeMalformedRingIsRecreated(t *testing.T) {
	p := Periods{QUIC: time.Hour, Tickets: time.Hour}
	s, _, _ := Rotate(State{}, t0, p, seeded(11))
	data, ann := Encode(s)
	data[DataQUICSecret] = []byte("zz" + strings.Repeat("0", 134) + "\n")
	got, err := Decode(data, ann)
	if err == nil || !strings.Contains(err.Error(), DataQUICSecret) {
		t.Fatalf("malformed QUIC secret: err %v", err)
	}
	if len(got.QUIC.Keys) != 0 || len(got.Tickets.Keys) != 2 {
		t.Fatalf("decoded %d QUIC and %d ticket keys, want 0 and 2", len(got.QUIC.Keys), len(got.Tickets.Keys))
	}
	s2, changed, err := Rotate(got, t0.Add(time.Minute), p, seeded(12))
	if err != nil || !changed || len(s2.QUIC.Keys) != 2 {
		t.Fatalf("the broken ring was not recreated: changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(TicketKeys(s2.Tickets.Keys), TicketKeys(s.Tickets.Keys)) {
		t.Error("the intact ticket ring changed")
	}
	delete(ann, AnnotationTicketRotatedAt)
	if _, err := Decode(data, ann); err == nil || !strings.Contains(err.Error(), DataTLSTicketKeys) {
		t.Errorf("missing rotation time: err %v", err)
	}
}

func TestParseQUICSecretFile(t *testing.T) {
	key := func(id byte) string {
		return hex.EncodeToString(append([]byte{id << 6}, bytes.Repeat([]byte{7}, QUICKeyLen-1)...))
	}
	good := "# comment\n\n" + key(0) + "\n" + key(1) + "\n"
	keys, err := ParseQUICSecretFile([]byte(good))
	if err != nil || len(keys) != 2 || QUICID(keys[1]) != 1 {
		t.Fatalf("good file: %d keys, err %v", len(keys), err)
	}
	for name, in := range map[string]string{
		"short":     key(0)[:134] + "\n",
		"not hex":   "g" + key(0)[1:] + "\n",
		"same id":   key(2) + "\n" + key(2) + "\n",
		"five keys": key(0) + "\n" + key(1) + "\n" + key(2) + "\n" + key(3) + "\n" + key(0)[:1] + "f" + key(0)[2:] + "\n",
		"empty":     "\n# only a comment\n",
	} {
		if _, err := ParseQUICSecretFile([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseTicketKeys(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, 80), bytes.Repeat([]byte{2}, 80)
	keys, err := ParseTicketKeys(append(bytes.Clone(a), b...))
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[1], b) {
		t.Fatalf("two keys: %d, err %v", len(keys), err)
	}
	for name, in := range map[string][]byte{"empty": nil, "79 bytes": a[:79], "same name": append(bytes.Clone(a), a...)} {
		if _, err := ParseTicketKeys(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRotateRandomFailure(t *testing.T) {
	if _, changed, err := Rotate(State{}, t0, Periods{}, failing{}); err == nil || changed {
		t.Fatalf("changed=%v err=%v, want an error", changed, err)
	}
}
