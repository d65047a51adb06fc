// Command imagebuild assembles a container image without a container engine and
// writes it as a docker-archive tarball; it is a thin command line over
// internal/ociimage. It prints the reference, manifest digest, image ID and archive
// size, and last the archive path.
//
//	imagebuild [--spec FILE] [--rootfs DIR] --file SRC:DST[:MODE]... [--cap PATH=CAPS]...
//	           --ref REPOSITORY:TAG --out FILE.tar [--entrypoint E]... [--cmd C]...
//	           [--user N] [--env K=V]... [--label K=V]... [--epoch SECONDS]
//
// --spec FILE inserts the arguments listed in FILE, one per line, with ${VAR}
// taken from the environment (hack/image/image.args describes the project image).
package main
