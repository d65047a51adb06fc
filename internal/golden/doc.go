// Package golden holds the one -update flag of the project's golden-file tests and the
// compare-or-write check they share. Only tests import it: the flag exists in test binaries
// alone. `make golden` runs every package that imports it with -update.
package golden
