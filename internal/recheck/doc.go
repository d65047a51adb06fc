// Package recheck schedules a rebuild at a time a translation names
// (translate.Result.OCSPRecheck: when a stapled OCSP response expires with no
// object changing). The runner (standalone), the proxy agent and the controller
// each hold one Timer and Set it after every build.
//
// Contract: one pending deadline per Timer; Set replaces it. The clock is
// injected (k8s.io/utils/clock) so the timing is tested without waiting.
package recheck
