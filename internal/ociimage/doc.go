// Package ociimage assembles a container image without a container engine and writes
// it as a docker-archive tarball (accepted by `docker load`, `kind load image-archive`
// and `ctr images import`), using github.com/google/go-containerregistry.
//
// Contract:
//   - An image is at most two layers: an optional root filesystem directory (for
//     example one made by mmdebstrap) and the extra files (binaries, data, and
//     symbolic links such as a second name for a binary). Without a
//     root filesystem the image holds only the files and their parent directories, which
//     suits static single-binary images.
//   - File capabilities are written as the PAX record SCHILY.xattr.security.capability
//     holding a version 2 vfs_cap_data, the form container runtimes turn into the file's
//     security.capability attribute when they unpack the layer.
//   - The output depends only on the inputs: entries are sorted, every mtime and the
//     image's created time are the given epoch (SOURCE_DATE_EPOCH), owner names are
//     dropped, added files are owned by 0:0, and the root filesystem's own extended
//     attributes are not copied. Two builds from the same inputs have the same digest.
//     The root filesystem layer may have an epoch of its own, so that it stays the
//     same (and runtimes share it) across builds that change only the files.
//   - Device nodes, sockets and anything under dev/, proc/ and sys/ of the root
//     filesystem are left out (runtimes mount those); the directories themselves stay.
package ociimage
