// Package provision creates the data plane of each Gateway of our GatewayClasses:
// a ServiceAccount, a Deployment running `nghttpx-gateway proxy` for that Gateway
// and a Service exposing its listener ports, all named Name(gateway) in the
// Gateway's namespace, owned by the Gateway (deleting it garbage-collects them) and
// labelled with the Gateway's spec.infrastructure labels and annotations plus our
// selector labels. A LoadBalancer Service asks for the Gateway's first static
// IP address (spec.loadBalancerIP). It also keeps one ClusterRoleBinding that grants every
// provisioned ServiceAccount the proxies' read-only ClusterRole (no Secrets, no
// ConfigMaps), and per Gateway and referenced namespace a Role and RoleBinding
// (access.go) that let its proxy list and watch exactly the Secrets and
// ConfigMaps it reads, by resourceNames.
//
// The Ingress shim's synthetic Gateways (EnsureIngress) get the same objects in
// the shim's namespace, owned by their IngressClass instead (a synthetic Gateway
// has no UID) and recognised by a label and annotation for pruning; their proxies
// get --ingress and the Ingress flags.
//
// Contract: the desired objects are pure functions of the Gateway and Options.
// Writes are server-side applies with our field manager, sent only when the
// fields we manage differ from what the cache holds, so an unchanged Gateway
// causes no API writes and no events. Prune deletes what we provisioned for
// Gateways that are no longer ours.
//
// KeysName and KeysSecretMeta name and label the Gateway's shared keys Secret,
// which the controller's leader writes (kube/controller/keys.go), not Ensure.
package provision
