package provision

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
)

// dataPlane is what a Gateway's settings mean for its proxies: the settings
// they get as arguments, and the pod's eBPF capabilities.
type dataPlane struct {
	settings.Settings
	quicBPF bool
}

// dataPlaneOf resolves the Gateway's settings against the controller-wide ones.
func dataPlaneOf(gw *gatewayv1.Gateway, opts Options) dataPlane {
	base := settings.Settings{HTTP3: opts.HTTP3, AdminPort: int(opts.AdminPort), StateDir: StateDir,
		DrainPeriod: DrainSeconds * time.Second}
	dp := dataPlane{Settings: base}
	if opts.Settings == nil {
		return dp
	}
	s := opts.Settings(gw.Namespace, gw.Name)
	if s == nil {
		return dp
	}
	return dataPlane{Settings: base.Resolve(s), quicBPF: s.QUICBPF}
}

// Capabilities of the data-plane container (all others are dropped).
const (
	// CapNetBindService lets listeners use ports below 1024 where the pod's
	// net.ipv4.ip_unprivileged_port_start sysctl is not allowed.
	CapNetBindService corev1.Capability = "NET_BIND_SERVICE"
	// CapBPF and CapPerfmon load nghttpx's eBPF QUIC steering program. No
	// SYS_RESOURCE: since Linux 5.11 BPF maps are charged to the memory cgroup, not
	// RLIMIT_MEMLOCK, and some runtimes' bounding sets lack it.
	CapBPF     corev1.Capability = "BPF"
	CapPerfmon corev1.Capability = "PERFMON"
)

// NghttpxBPFBinary is the image's copy of nghttpx with file capabilities
// cap_net_bind_service,cap_bpf,cap_perfmon+ep (hack/image); the
// plain /usr/local/bin/nghttpx has none (pods bind low ports through the
// net.ipv4.ip_unprivileged_port_start sysctl of their own network namespace).
const NghttpxBPFBinary = "/usr/local/bin/nghttpx-bpf"

// capabilities are added to the container after dropping ALL: NET_BIND_SERVICE
// always (it is the one the "restricted" Pod Security Standard allows), the eBPF
// ones only when HTTP/3 is on and the class asks for quicBPF, since they are
// outside even the "baseline" standard.
//
// The container runs as non-root, and Kubernetes sets no ambient capabilities:
// an added capability only reaches the bounding set, so a process gets it only
// from file capabilities on its binary, which exec grants only within the
// bounding set (and refuses to run the binary at all when one is missing) and
// never under no_new_privs (allowPrivilegeEscalation=false). Hence the two
// nghttpx binaries of the image, nghttpxBinary and allowPrivilegeEscalation.
// The proxy's feature probe checks the same rules and renders no-quic-bpf,
// saying why, when they are not met.
func (dp dataPlane) capabilities() []corev1.Capability {
	caps := []corev1.Capability{CapNetBindService}
	if dp.bpf() {
		caps = append(caps, CapBPF, CapPerfmon)
	}
	return caps
}

// bpf: the data plane may load the eBPF QUIC steering program.
func (dp dataPlane) bpf() bool { return dp.HTTP3 && dp.quicBPF }

// allowPrivilegeEscalation only where nghttpx-bpf must gain its file capabilities.
func (dp dataPlane) allowPrivilegeEscalation() bool { return dp.bpf() }

// nghttpxBinary is the nghttpx the proxy runs (its NGHTTPX_BIN), or "" for the
// image's default. nghttpx-bpf only where the eBPF capabilities are in the
// bounding set: elsewhere the kernel refuses to run it.
func (dp dataPlane) nghttpxBinary() string {
	if dp.bpf() {
		return NghttpxBPFBinary
	}
	return ""
}
