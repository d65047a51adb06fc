// Package image holds no code: its directory describes the project image that both
// `make image` (hack/build-image.sh, without a container engine) and the Dockerfile
// build. packages.txt is the root filesystem's package list, finish-rootfs.sh and
// stage-nghttpx.sh are build steps both run, image.args is the image's layout and
// config for cmd/imagebuild, and verify.sh checks a built archive.
//
// The test fails when the Dockerfile's final stage and image.args describe different
// images: copied files, symlinks, file capabilities, user, entrypoint, env and labels, packages
// installed from anywhere but packages.txt, or a build step one of them skips.
package image
