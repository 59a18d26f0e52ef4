#!/bin/sh
# fuzz_replay.sh: replay the fuzz seed corpus and every saved crash input
# through the fuzz harnesses (built without libFuzzer) under make check.
set -e
srcdir=${RP_SRCDIR:-.}
for h in request response; do
	set -- "$srcdir"/fuzz/corpus/$h/*
	for f in "$srcdir"/fuzz/regressions/$h-*; do
		[ -e "$f" ] && set -- "$@" "$f"
	done
	./fuzz/replay_$h "$@"
done
