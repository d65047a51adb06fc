package proxyagent

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

// File names of the shared keys inside the Gateway's state directory. The
// applier writes them 0600 (their names say "secret"/"key") with an atomic
// rename, and reloads nghttpx when one the main configuration names changes.
const (
	keysDir        = "shared-keys"
	quicSecretName = keysDir + "/quic-secret"
	ticketKeyName  = keysDir + "/tls-ticket-key-"
)

// sharedKeys follows the Gateway's keys Secret, which the controller's leader
// writes and rotates (package dataplane/keys). Pod Secret volumes are not
// updated in every environment, so the agent reads the Secret from its cache
// and hands the files to the applier itself. Until the Secret exists nghttpx
// uses its own per-process keys; a Secret that disappears or turns unreadable
// leaves the last good keys in place.
//
// With original set (an Ingress data plane replacing the original nghttpx
// Ingress controller, whose --nghttpx-secret that is), each kind of key comes
// from that Secret, in the original's format, so that its pods and ours share
// them during a rolling replacement: the QUIC secret file is the Secret's value
// byte for byte, as the original writes it, and the ticket keys are its 48-byte
// aes-128-cbc keys in Secret order. A kind the original Secret lacks (or has
// malformed) comes from our keys Secret until the original Secret has it; once
// it came from the original Secret, the last good original keys stay.
type sharedKeys struct {
	secret types.NamespacedName
	// original is the original-format keys Secret ("": none).
	original types.NamespacedName
	// named reads original by name (source.Named: one watch on exactly that
	// Secret, granted by resourceNames); nil: through the reader refresh gets.
	named *source.Named
	log   logr.Logger

	mu      sync.Mutex
	quic    []byte   // QUIC secret file, nil when none
	tickets [][]byte // ticket key files, the encrypting one first
	cipher  string   // tls-ticket-key-cipher of tickets ("": ours)
	// quicFrom and ticketsFrom say where quic and tickets came from: "",
	// "own" or "original".
	quicFrom, ticketsFrom string
	// admin is the token /status requires (keys.DataAdminToken), nil until read.
	admin []byte
	state map[string]string // what was last logged per subject
}

// watch calls notify on every event of the keys Secret.
func (k *sharedKeys) watch(ctx context.Context, c cache.Cache, notify func()) error {
	inf, err := c.GetInformer(ctx, &corev1.Secret{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("informer for the keys Secret: %w", err)
	}
	ours := func(obj any) {
		if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if s, ok := obj.(*corev1.Secret); ok && ((s.Namespace == k.secret.Namespace && s.Name == k.secret.Name) ||
			(s.Namespace == k.original.Namespace && s.Name == k.original.Name)) {
			notify()
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { ours(o) },
		UpdateFunc: func(_, o any) { ours(o) },
		DeleteFunc: ours,
	})
	if err != nil {
		return fmt.Errorf("event handler for the keys Secret: %w", err)
	}
	return nil
}

// refresh reads the Secrets from r (and named) and keeps their keys when they
// are valid.
func (k *sharedKeys) refresh(ctx context.Context, r client.Reader) {
	var own, orig corev1.Secret
	err := r.Get(ctx, k.secret, &own)
	var origErr error
	if k.original.Name != "" {
		if k.named != nil {
			origErr = k.named.GetPinned(ctx, k.original, &orig)
		} else if origErr = r.Get(ctx, k.original, &orig); apierrors.IsNotFound(origErr) {
			origErr = nil
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	before := k.files()
	switch {
	case apierrors.IsNotFound(err):
		if k.quic == nil && k.original.Name == "" {
			k.note("own", "missing", "keys Secret not found (yet): nghttpx uses its own per-process QUIC and TLS ticket keys, so sessions and QUIC tokens do not carry over to other replicas until the controller creates it",
				"secret", k.secret.String())
		} else if k.original.Name == "" {
			k.note("own", "gone", "keys Secret deleted: keeping the last keys until it is back", "secret", k.secret.String())
		}
	case err != nil:
		k.log.Error(err, "reading the keys Secret; keeping the current keys", "secret", k.secret.String())
	default:
		if tok := own.Data[keys.DataAdminToken]; keys.ValidAdminToken(tok) {
			k.admin = tok
		}
		quic, qerr := keys.ParseQUICSecretFile(own.Data[keys.DataQUICSecret])
		tickets, terr := keys.ParseTicketKeys(own.Data[keys.DataTLSTicketKeys])
		if qerr != nil || terr != nil {
			// nghttpx would quietly fall back to random keys on a bad file.
			k.note("own", "bad", "keys Secret unreadable; keeping the current keys", "secret", k.secret.String(),
				"quic", fmt.Sprint(qerr), "tickets", fmt.Sprint(terr))
			break
		}
		k.note("own", "ok", "")
		if k.quicFrom != "original" {
			k.quic, k.quicFrom = keys.QUICSecretFile(quic), "own"
		}
		if k.ticketsFrom != "original" {
			k.tickets, k.cipher, k.ticketsFrom = tickets, "", "own"
		}
	}
	if k.original.Name != "" {
		k.refreshOriginal(&orig, origErr)
	}
	if after := k.files(); after != before {
		if before == "" {
			k.log.Info("shared QUIC and TLS ticket keys loaded", "secret", k.secret.String(), "quicFrom", k.quicFrom, "ticketsFrom", k.ticketsFrom,
				"ticketKeys", len(k.tickets))
		} else {
			k.log.V(1).Info("shared keys changed; nghttpx reloads", "quicFrom", k.quicFrom, "ticketsFrom", k.ticketsFrom)
		}
	}
}

// refreshOriginal takes each kind of key the original-format Secret s holds
// (err: it could not be read; an empty s: it does not exist).
func (k *sharedKeys) refreshOriginal(s *corev1.Secret, err error) {
	name := k.original.String()
	switch {
	case err != nil:
		k.log.Error(err, "reading the original Ingress controller's keys Secret; keeping the current keys", "secret", name)
		return
	case s.Name == "":
		k.note("original", "missing", "the original Ingress controller's keys Secret (--nghttpx-secret) not found (yet); the controller creates it. Until then pods of the original controller and ours do not share keys",
			"secret", name)
		return
	}
	// Like the original's pods: the keys' format counts, not the leader's
	// timestamps.
	_, qerr := keys.ParseOriginalQUIC(s.Data[keys.DataOriginalQUIC])
	if qerr == nil {
		// Byte for byte what the original writes to its quic-secret.txt.
		k.quic, k.quicFrom = bytes.Clone(s.Data[keys.DataOriginalQUIC]), "original"
	}
	tickets, terr := keys.ParseOriginalTicketKeys(s.Data[keys.DataOriginalTicketKeys])
	if terr == nil {
		k.tickets, k.cipher, k.ticketsFrom = tickets, keys.OriginalTicketCipher, "original"
	}
	if qerr != nil || terr != nil {
		k.note("original", fmt.Sprintf("partial:%v:%v", qerr, terr), "the original Ingress controller's keys Secret lacks usable keys of some kind; the last good ones (or our own keys Secret's) serve until the controller replaces them",
			"secret", name, "quic", fmt.Sprint(qerr), "tickets", fmt.Sprint(terr))
		return
	}
	k.note("original", "ok", "")
}

// files is a digest of the current key files ("" when none).
func (k *sharedKeys) files() string {
	if k.quic == nil && k.tickets == nil {
		return ""
	}
	return string(k.quic) + "\x00" + k.cipher + "\x00" + string(bytes.Join(k.tickets, nil))
}

// note logs msg when the state of subject changes (not on every batch); an
// empty msg only records the state.
func (k *sharedKeys) note(subject, state, msg string, kv ...any) {
	if k.state == nil {
		k.state = map[string]string{}
	}
	if k.state[subject] == state {
		return
	}
	k.state[subject] = state
	if msg != "" {
		k.log.Info(msg, kv...)
	}
}

// configure points ro at the key files in stateDir (the Gateway's state
// directory) and returns them, nil while there are no keys.
func (k *sharedKeys) configure(ro *render.Options, stateDir string) map[string][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.quic == nil && k.tickets == nil {
		return nil
	}
	files := map[string][]byte{}
	if k.quic != nil {
		files[quicSecretName] = k.quic
		ro.QUICSecretFile = filepath.Join(stateDir, quicSecretName)
	}
	ro.TLSTicketKeyFiles, ro.TLSTicketKeyCipher = nil, k.cipher
	for i, t := range k.tickets {
		name := ticketKeyName + strconv.Itoa(i)
		files[name] = t
		ro.TLSTicketKeyFiles = append(ro.TLSTicketKeyFiles, filepath.Join(stateDir, name))
	}
	return files
}

// adminToken is the token /status requires, nil while unknown.
func (k *sharedKeys) adminToken() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.admin
}
