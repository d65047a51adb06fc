package proxyagent

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
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
type sharedKeys struct {
	secret types.NamespacedName
	log    logr.Logger

	mu      sync.Mutex
	quic    []byte   // QUIC secret file, "" when none
	tickets [][]byte // ticket key files, the encrypting one first
	// admin is the token /status requires (keys.DataAdminToken), nil until read.
	admin []byte
	state string // what was last logged: "missing", "bad:<error>", "ok"
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
		if s, ok := obj.(*corev1.Secret); ok && s.Namespace == k.secret.Namespace && s.Name == k.secret.Name {
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

// refresh reads the Secret from r and keeps its keys when they are valid.
func (k *sharedKeys) refresh(ctx context.Context, r client.Reader) {
	var s corev1.Secret
	err := r.Get(ctx, k.secret, &s)
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case apierrors.IsNotFound(err):
		if k.quic == nil {
			k.note("missing", "keys Secret not found (yet): nghttpx uses its own per-process QUIC and TLS ticket keys, so sessions and QUIC tokens do not carry over to other replicas until the controller creates it",
				"secret", k.secret.String())
		} else {
			k.note("gone", "keys Secret deleted: keeping the last keys until it is back", "secret", k.secret.String())
		}
		return
	case err != nil:
		k.log.Error(err, "reading the keys Secret; keeping the current keys", "secret", k.secret.String())
		return
	}
	if tok := s.Data[keys.DataAdminToken]; keys.ValidAdminToken(tok) {
		k.admin = tok
	}
	quic, qerr := keys.ParseQUICSecretFile(s.Data[keys.DataQUICSecret])
	tickets, terr := keys.ParseTicketKeys(s.Data[keys.DataTLSTicketKeys])
	if qerr != nil || terr != nil {
		// nghttpx would quietly fall back to random keys on a bad file.
		k.note("bad", "keys Secret unreadable; keeping the current keys", "secret", k.secret.String(),
			"quic", fmt.Sprint(qerr), "tickets", fmt.Sprint(terr))
		return
	}
	file := keys.QUICSecretFile(quic)
	if bytes.Equal(file, k.quic) && slices.EqualFunc(tickets, k.tickets, bytes.Equal) {
		return
	}
	first := k.quic == nil
	k.quic, k.tickets = file, tickets
	k.state = "ok"
	if first {
		k.log.Info("shared QUIC and TLS ticket keys loaded", "secret", k.secret.String(), "quicKeys", len(quic), "ticketKeys", len(tickets))
	} else {
		k.log.V(1).Info("shared keys changed; nghttpx reloads", "secret", k.secret.String(), "quicKeyID", keys.QUICID(quic[0]))
	}
}

// note logs msg when the state changes (not on every batch).
func (k *sharedKeys) note(state, msg string, kv ...any) {
	if k.state == state {
		return
	}
	k.state = state
	k.log.Info(msg, kv...)
}

// configure points ro at the key files in stateDir (the Gateway's state
// directory) and returns them, nil while there are no keys.
func (k *sharedKeys) configure(ro *render.Options, stateDir string) map[string][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.quic == nil {
		return nil
	}
	files := map[string][]byte{quicSecretName: k.quic}
	ro.QUICSecretFile = filepath.Join(stateDir, quicSecretName)
	ro.TLSTicketKeyFiles = nil
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
