package keys

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"
)

// The original controller's key handling, written here from reading its
// source (pkg/nghttpx tls.go and quic.go, pkg/controller leader syncSecret):
// an independent model of what it stores, to hold ours against.
//
//   - a new ticket key is 48 random bytes; the initial value is two of them.
//   - rotation: new = [last, old[0 : n'-2]..., fresh] with n' = min(n+1, 12).
//   - a new QUIC key is 68 random bytes; the initial two get ids 0 and 1 in
//     the top two bits of byte 0; hex lines are joined with "\n".
//   - rotation: fresh id = (id of the last line + 1) & 3; new = [last,
//     old[0 : n'-2]..., fresh] with n' = min(n+1, 4).
type originalModel struct{ rnd io.Reader }

func (m originalModel) read(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(m.rnd, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (m originalModel) initialTickets(t *testing.T) []byte {
	return append(m.read(t, 48), m.read(t, 48)...)
}

func (m originalModel) updateTickets(t *testing.T, cur []byte) []byte {
	fresh := m.read(t, 48)
	n := min(len(cur)/48+1, 12)
	out := make([]byte, 0, n*48)
	out = append(out, cur[len(cur)-48:]...)
	out = append(out, cur[:(n-2)*48]...)
	return append(out, fresh...)
}

func (m originalModel) quicKey(t *testing.T, id byte) string {
	b := m.read(t, 68)
	b[0] = b[0]&0x3f | id<<6
	return hex.EncodeToString(b)
}

func (m originalModel) initialQUIC(t *testing.T) []byte {
	return []byte(m.quicKey(t, 0) + "\n" + m.quicKey(t, 1))
}

func (m originalModel) updateQUIC(t *testing.T, cur []byte) []byte {
	lines := strings.Split(string(cur), "\n")
	last := lines[len(lines)-1]
	b, _ := hex.DecodeString(last[:2])
	fresh := m.quicKey(t, (b[0]>>6+1)&3)
	n := min(len(lines)+1, 4)
	out := append([]string{last}, lines[:n-2]...)
	return []byte(strings.Join(append(out, fresh), "\n"))
}

// Given the same random bytes, RotateOriginal writes byte for byte what the
// original controller writes, from creation through the growth of both rings
// to their limits (12 ticket keys, 4 QUIC keys) and well past them.
func TestRotateOriginalMatchesTheOriginal(t *testing.T) {
	p := Periods{Tickets: time.Hour, QUIC: 4 * time.Hour} // the original's defaults
	start := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	ours, model := seeded(1), originalModel{rnd: seeded(1)}

	o, changed, err := RotateOriginal(Original{}, start, p, ours)
	if err != nil || !changed {
		t.Fatalf("create: changed %v, err %v", changed, err)
	}
	wantTickets, wantQUIC := model.initialTickets(t), model.initialQUIC(t)
	quicAt := start
	for step := 0; ; step++ {
		data, ann := EncodeOriginal(o)
		if !bytes.Equal(data[DataOriginalTicketKeys], wantTickets) {
			t.Fatalf("step %d: ticket keys differ from the original's (%d vs %d bytes)", step, len(data[DataOriginalTicketKeys]), len(wantTickets))
		}
		if !bytes.Equal(data[DataOriginalQUIC], wantQUIC) {
			t.Fatalf("step %d: QUIC keying materials differ from the original's:\n%s\nwant\n%s", step, data[DataOriginalQUIC], wantQUIC)
		}
		if got, want := ann[AnnotationOriginalQUICUpdated], quicAt.Format(time.RFC3339); got != want {
			t.Fatalf("step %d: QUIC timestamp %s, want %s", step, got, want)
		}
		// What we wrote reads back as the same rings.
		back := DecodeOriginal(data, ann)
		if len(back.Problems) > 0 || len(back.Tickets) != len(o.Tickets) || len(back.QUIC) != len(o.QUIC) {
			t.Fatalf("step %d: our own Secret does not read back: %v", step, back.Problems)
		}
		if step == 40 {
			if len(o.Tickets) != OriginalMaxTicketKeys || len(o.QUIC) != QUICMaxKeys {
				t.Fatalf("after 40 hours: %d ticket keys, %d QUIC keys; want %d and %d", len(o.Tickets), len(o.QUIC), OriginalMaxTicketKeys, QUICMaxKeys)
			}
			break
		}
		// One hour later: tickets are due every hour, QUIC every fourth.
		now := start.Add(time.Duration(step+1) * time.Hour)
		prevTickets, prevQUIC := o.Tickets, o.QUIC
		o, changed, err = RotateOriginal(o, now, p, ours)
		if err != nil || !changed {
			t.Fatalf("step %d: changed %v, err %v", step, changed, err)
		}
		wantTickets = model.updateTickets(t, wantTickets)
		if (step+1)%4 == 0 {
			wantQUIC, quicAt = model.updateQUIC(t, wantQUIC), now
		}
		// The announced key is the new encrypting one, and nothing that
		// encrypted or was announced a period ago was dropped.
		if !bytes.Equal(o.Tickets[0], prevTickets[len(prevTickets)-1]) || !containsKey(o.Tickets, prevTickets[0]) {
			t.Fatalf("step %d: ticket rotation lost the announced or the encrypting key", step)
		}
		if (step+1)%4 == 0 && (!bytes.Equal(o.QUIC[0], prevQUIC[len(prevQUIC)-1]) || !containsKey(o.QUIC, prevQUIC[0])) {
			t.Fatalf("step %d: QUIC rotation lost the announced or the encrypting key", step)
		}
	}
}

func containsKey(ring [][]byte, k []byte) bool {
	for _, x := range ring {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// A Secret as the original leaves it (after a few rotations, annotations to
// the second) is read as it is; only what is due is rotated, once.
func TestDecodeAndRotateOriginalSecret(t *testing.T) {
	model := originalModel{rnd: seeded(7)}
	tickets := model.initialTickets(t)
	quic := model.initialQUIC(t)
	for range 3 {
		tickets = model.updateTickets(t, tickets)
	}
	quic = model.updateQUIC(t, quic)
	data := map[string][]byte{DataOriginalTicketKeys: tickets, DataOriginalQUIC: quic, "other": []byte("kept")}
	ann := map[string]string{
		AnnotationOriginalTicketUpdated: "2026-12-07T05:30:00Z",
		AnnotationOriginalQUICUpdated:   "2026-12-07T03:00:00Z",
	}
	o := DecodeOriginal(data, ann)
	if len(o.Problems) > 0 || len(o.Tickets) != 5 || len(o.QUIC) != 3 {
		t.Fatalf("decode: %d ticket keys, %d QUIC keys, problems %v; want 5, 3, none", len(o.Tickets), len(o.QUIC), o.Problems)
	}
	for i, id := range []int{1, 0, 2} { // announced id 1 moved first, fresh id 2 last
		if QUICID(o.QUIC[i]) != id {
			t.Errorf("QUIC key %d has id %d, want %d", i, QUICID(o.QUIC[i]), id)
		}
	}
	p := Periods{Tickets: time.Hour, QUIC: 4 * time.Hour}
	// 06:10: tickets not due (05:30 + 1h), QUIC not due (03:00 + 4h).
	if _, changed, err := RotateOriginal(o, time.Date(2026, 12, 7, 6, 10, 0, 0, time.UTC), p, seeded(2)); changed || err != nil {
		t.Fatalf("rotated before a period ended (err %v)", err)
	}
	if got, want := NextOriginalRotation(o, p), time.Date(2026, 12, 7, 6, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next rotation %s, want %s", got, want)
	}
	// 06:45: only the tickets are due.
	next, changed, err := RotateOriginal(o, time.Date(2026, 12, 7, 6, 45, 10, 500, time.UTC), p, seeded(2))
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	if len(next.Tickets) != 6 || !bytes.Equal(next.Tickets[0], o.Tickets[4]) || !bytes.Equal(OriginalQUICText(next.QUIC), quic) {
		t.Errorf("tickets %d (want 6, announced first), QUIC changed: %v", len(next.Tickets), !bytes.Equal(OriginalQUICText(next.QUIC), quic))
	}
	d2, a2 := EncodeOriginal(next)
	if a2[AnnotationOriginalTicketUpdated] != "2026-12-07T06:45:10Z" || a2[AnnotationOriginalQUICUpdated] != "2026-12-07T03:00:00Z" {
		t.Errorf("annotations %v", a2)
	}
	if _, ok := d2["other"]; ok {
		t.Error("EncodeOriginal returns only its own data keys; the caller merges")
	}
	// Zero periods never rotate.
	if _, changed, _ := RotateOriginal(o, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Periods{}, seeded(3)); changed {
		t.Error("rotated with zero periods")
	}
}

// What the original refuses (and would replace by two fresh keys) we refuse
// too; nghttpx-readable extras (a final newline, comments) are accepted.
func TestDecodeOriginalMalformed(t *testing.T) {
	model := originalModel{rnd: seeded(9)}
	good := map[string][]byte{DataOriginalTicketKeys: model.initialTickets(t), DataOriginalQUIC: model.initialQUIC(t)}
	goodAnn := map[string]string{AnnotationOriginalTicketUpdated: "2026-12-07T05:00:00Z", AnnotationOriginalQUICUpdated: "2026-12-07T05:00:00Z"}
	lines := strings.Split(string(good[DataOriginalQUIC]), "\n")
	sameID := []byte(lines[0] + "\n" + lines[0][:2] + lines[1][2:])
	for _, c := range []struct {
		name    string
		key     string
		value   []byte
		ann     string
		annVal  string
		tickets bool // whether the tickets ring survives
		quic    bool
	}{
		{name: "ok with final newline and comment", key: DataOriginalQUIC, value: []byte("# keys\n" + string(good[DataOriginalQUIC]) + "\n"), tickets: true, quic: true},
		{name: "ticket keys of 47 bytes", key: DataOriginalTicketKeys, value: good[DataOriginalTicketKeys][:47], quic: true},
		{name: "one ticket key", key: DataOriginalTicketKeys, value: good[DataOriginalTicketKeys][:48], quic: true},
		{name: "ticket keys of the aes-256 size", key: DataOriginalTicketKeys, value: make([]byte, 160), quic: true},
		{name: "one QUIC key", key: DataOriginalQUIC, value: []byte(lines[0]), tickets: true},
		{name: "QUIC keys sharing an id", key: DataOriginalQUIC, value: sameID, tickets: true},
		{name: "QUIC line not hex", key: DataOriginalQUIC, value: []byte(strings.Repeat("zz", 68) + "\n" + lines[1]), tickets: true},
		{name: "no ticket timestamp", ann: AnnotationOriginalTicketUpdated, annVal: "", quic: true},
		{name: "bad QUIC timestamp", ann: AnnotationOriginalQUICUpdated, annVal: "yesterday", tickets: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range good {
				data[k] = v
			}
			ann := map[string]string{}
			for k, v := range goodAnn {
				ann[k] = v
			}
			if c.key != "" {
				data[c.key] = c.value
			}
			if c.ann != "" {
				ann[c.ann] = c.annVal
			}
			o := DecodeOriginal(data, ann)
			if (o.Tickets != nil) != c.tickets || (o.QUIC != nil) != c.quic {
				t.Fatalf("tickets read %v (want %v), QUIC read %v (want %v); problems %v", o.Tickets != nil, c.tickets, o.QUIC != nil, c.quic, o.Problems)
			}
			if !c.tickets || !c.quic {
				if len(o.Problems) != 1 {
					t.Errorf("problems %q, want one", o.Problems)
				}
				// The unreadable ring is started afresh; the other is kept.
				next, changed, err := RotateOriginal(o, time.Date(2026, 12, 7, 5, 1, 0, 0, time.UTC), Periods{Tickets: time.Hour, QUIC: time.Hour}, seeded(4))
				if err != nil || !changed || len(next.Tickets) < 2 || len(next.QUIC) < 2 {
					t.Fatalf("recreate: changed %v err %v", changed, err)
				}
				if c.tickets && !bytes.Equal(bytes.Join(next.Tickets, nil), good[DataOriginalTicketKeys]) {
					t.Error("the readable ticket keys were replaced")
				}
				if c.quic && !bytes.Equal(OriginalQUICText(next.QUIC), good[DataOriginalQUIC]) {
					t.Error("the readable QUIC keys were replaced")
				}
			}
		})
	}
}

// A Secret from an older original release (new QUIC key put first, ids
// 2, 1, 0) rotates without two keys sharing an id.
func TestRotateOriginalOlderLayout(t *testing.T) {
	model := originalModel{rnd: seeded(5)}
	text := model.quicKey(t, 2) + "\n" + model.quicKey(t, 1) + "\n" + model.quicKey(t, 0)
	o := Original{Tickets: bytesSplit(model.initialTickets(t)), TicketsUpdated: time.Unix(0, 0)}
	var err error
	if o.QUIC, err = ParseOriginalQUIC([]byte(text)); err != nil {
		t.Fatal(err)
	}
	next, _, err := RotateOriginal(o, time.Unix(7200, 0), Periods{QUIC: time.Hour, Tickets: time.Hour}, seeded(6))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseOriginalQUIC(OriginalQUICText(next.QUIC)); err != nil || len(next.QUIC) != 4 {
		t.Fatalf("rotated older layout: %d keys, %v", len(next.QUIC), err)
	}
}

func bytesSplit(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); i += OriginalTicketKeyLen {
		out = append(out, b[i:i+OriginalTicketKeyLen])
	}
	return out
}
