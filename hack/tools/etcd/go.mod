// Tools module that builds the pinned etcd server (see hack/build-k8s.sh). Not part of the main module.
module github.com/nghttpx-gateway/nghttpx-gateway/hack/tools/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.6
