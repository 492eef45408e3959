#!/usr/bin/env bash
# make demo: check Debian's real 22.05 auth_munge, cred_munge and auth_none
# (a private munged is started and stopped for each munge plugin) and print
# each summary. Every plugin's findings are explained in docs/real-plugins.md.
set -uo pipefail
bin=$1 cache=$2
dir=$(find "$cache" -maxdepth 1 -name '22.05.*' | head -1)/usr/lib/x86_64-linux-gnu/slurm-wlm
status=0
for p in auth_munge cred_munge auth_none; do
	echo "=== plugincheck --auth-ttl 2 $p.so"
	"$bin" --auth-ttl 2 --no-color "$dir/$p.so" | sed -n '/^CLAUSE /,$p'
	rc=${PIPESTATUS[0]}
	echo "(exit status $rc)"
	echo
	[ "$rc" -le 1 ] || [ "$rc" -eq 3 ] || status=$rc
done
echo "Why each finding is true of the plugin: docs/real-plugins.md"
exit $status
