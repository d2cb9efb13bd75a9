// Package alerting holds the tests of the alerts shipped in kapacitor/:
// each TICKscript is run in Kapacitor 1.7.5's own engine (package engine)
// on series recorded from the devnet pipeline, or derived from them where
// the devnet can't make the fault, and must fire at the right level and
// time, stay quiet on healthy data, and recover.
package alerting
