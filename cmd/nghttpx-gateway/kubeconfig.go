package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// restConfig loads the API server connection: the --kubeconfig file, else
// $KUBECONFIG, else the pod's in-cluster service account.
func restConfig(kubeconfig, userAgent string) (*rest.Config, error) {
	return (&kubeFlags{}).restConfig(kubeconfig, userAgent)
}

// kubeFlags are client-go's kubeconfig override flags, which the original
// nghttpx Ingress controller binds (clientcmd's recommended names), and which,
// as there, apply only together with a kubeconfig file. The original's
// --namespace/-n override is left out: serve's --namespace has another meaning.
type kubeFlags struct {
	o clientcmd.ConfigOverrides
	// insecure and noCompression are bools that accept "true"/"false" values.
	insecure, noCompression bool
	set                     []string // names given on the command line
}

func (k *kubeFlags) register(fs *flag.FlagSet) {
	str := func(p *string, name, usage string) {
		fs.Func(name, usage+" (client-go override; needs --kubeconfig)", func(v string) error {
			*p = v
			k.set = append(k.set, name)
			return nil
		})
	}
	a, c := &k.o.AuthInfo, &k.o.ClusterInfo
	str(&c.Server, "server", "address and port of the API server")
	str(&c.Server, "s", "alias of --server")
	str(&c.TLSServerName, "tls-server-name", "server name to verify the API server's certificate against")
	str(&c.CertificateAuthority, "certificate-authority", "CA certificate file of the API server")
	str(&c.ProxyURL, "proxy-url", "proxy for API server requests")
	str(&a.ClientCertificate, "client-certificate", "client certificate file for TLS")
	str(&a.ClientKey, "client-key", "client key file for TLS")
	str(&a.Token, "token", "bearer token for the API server")
	str(&a.Username, "username", "basic authentication user name")
	str(&a.Password, "password", "basic authentication password")
	str(&a.Impersonate, "as", "user to impersonate")
	str(&a.ImpersonateUID, "as-uid", "UID to impersonate")
	fs.Func("as-group", "group to impersonate, repeatable (client-go override; needs --kubeconfig)", func(v string) error {
		a.ImpersonateGroups = append(a.ImpersonateGroups, v)
		k.set = append(k.set, "as-group")
		return nil
	})
	str(&k.o.Context.Cluster, "cluster", "kubeconfig cluster to use")
	str(&k.o.Context.AuthInfo, "user", "kubeconfig user to use")
	str(&k.o.CurrentContext, "context", "kubeconfig context to use")
	str(&k.o.Timeout, "request-timeout", "timeout of one API server request (e.g. 30s; 0: none)")
	str(&k.o.Context.Namespace, "n", "the kubeconfig context's namespace (unused: --namespace names the controller's own)")
	boolean := func(p *bool, name, usage string) {
		fs.Var(boolFunc{p: p, set: func() { k.set = append(k.set, name) }}, name, usage+" (client-go override; needs --kubeconfig)")
	}
	boolean(&k.insecure, "insecure-skip-tls-verify", "do not verify the API server's certificate (insecure)")
	boolean(&k.noCompression, "disable-compression", "ask the API server for uncompressed responses")
}

// restConfig is the package restConfig with the overrides laid over the
// kubeconfig file.
func (k *kubeFlags) restConfig(kubeconfig, userAgent string) (*rest.Config, error) {
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		o := k.o
		o.ClusterInfo.InsecureSkipTLSVerify = k.insecure
		o.ClusterInfo.DisableCompression = k.noCompression
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &o).ClientConfig()
	} else {
		if len(k.set) > 0 {
			return nil, fmt.Errorf("--%s needs --kubeconfig (or $KUBECONFIG): in a pod the service account's configuration is used as is", k.set[0])
		}
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("API server configuration (pass --kubeconfig outside a cluster): %w", err)
	}
	cfg.UserAgent = userAgent
	return cfg, nil
}

// boolFunc is a boolean flag that also records that it was given.
type boolFunc struct {
	p   *bool
	set func()
}

func (b boolFunc) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p)
}

func (b boolFunc) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*b.p = x
	b.set()
	return nil
}

func (boolFunc) IsBoolFlag() bool { return true }

// envOr returns $name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
