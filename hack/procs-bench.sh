#!/usr/bin/env bash
# The --procs figures of BENCHMARKS.md: wall times of whole runs, back to
# back, each pair as a ratio, and whether the verdict tables agree.
#
#   hack/procs-bench.sh BIN CACHE
#
# BIN is a built plugincheck, CACHE the Slurm plugin roots (make slurm).
set -euo pipefail
bin=$1 cache=$2
dir=$(find "$cache" -maxdepth 1 -name '22.05.*' | head -1)/usr/lib/x86_64-linux-gnu/slurm-wlm
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# wall NAME ARGS...: run plugincheck (one seed for all, so the random
# parts are the same), keep its verdict tables, print and remember the
# wall time in seconds.
declare -A secs
wall() {
	local name=$1
	shift
	local start end
	start=$(date +%s.%N)
	"$bin" --no-color --seed 18 "$@" >"$out/$name.out" 2>/dev/null || true
	end=$(date +%s.%N)
	secs[$name]=$(echo "$end - $start" | bc)
	grep -E '^(CLAUSE |[A-Z0-9-]+ +(MUST|SHOULD|MAY) |[a-z]+/[a-z_0-9]+: )' "$out/$name.out" >"$out/$name.table"
	printf '%-26s %6.2f s   plugincheck %s\n' "$name" "${secs[$name]}" "$*"
}
ratio() { printf '%-44s %5.2f\n' "$1 / $2" "$(echo "scale=4; ${secs[$1]} / ${secs[$2]}" | bc)"; }
same() {
	if cmp -s "$out/$1.table" "$out/$2.table"; then
		echo "verdict tables of $1 and $2: identical"
	else
		echo "verdict tables of $1 and $2: DIFFER"
		diff "$out/$1.table" "$out/$2.table" || true
	fi
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); default --procs: $("$bin" run --help 2>&1 | grep -A1 -- '-procs int' | sed -n 's/.*(default \([0-9]*\)).*/\1/p')"
wall munge-expiry-only --auth-ttl 2 --focus AUTH-EXPIRY "$dir/auth_munge.so"
wall munge-default --auth-ttl 2 "$dir/auth_munge.so"
wall munge-procs1 --auth-ttl 2 --procs 1 "$dir/auth_munge.so"
wall munge-procs4 --auth-ttl 2 --procs 4 "$dir/auth_munge.so"
wall none-default "$dir/auth_none.so"
wall none-procs1 --procs 1 "$dir/auth_none.so"
wall three-default --auth-ttl 2 "$dir/auth_munge.so" "$dir/cred_munge.so" "$dir/auth_none.so"
wall three-procs1 --auth-ttl 2 --procs 1 "$dir/auth_munge.so" "$dir/cred_munge.so" "$dir/auth_none.so"
echo
ratio munge-default munge-expiry-only
ratio munge-procs4 munge-expiry-only
ratio munge-procs1 munge-expiry-only
ratio munge-default munge-procs1
ratio none-default none-procs1
ratio three-default three-procs1
echo
same munge-default munge-procs1
same munge-procs4 munge-procs1
same none-default none-procs1
same three-default three-procs1
