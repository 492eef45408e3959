#!/usr/bin/env bash
# make demo: inspect and load every real Debian auth/cred plugin in the cache.
set -uo pipefail
bin=$1 cache=$2
status=0
for so in $(find "$cache" -path '*/slurm-wlm/*' \( -name 'auth_*.so' -o -name 'cred_*.so' \) | sort); do
	echo "=== ${so#$cache/}"
	"$bin" inspect --load "$so" || status=1
	echo
done
exit $status
