#!/usr/bin/env bash
# fetch-slurm.sh - make the Debian Slurm roots plugincheck tests against: the
# binary Slurm plugin packages of four Debian suites plus the shared libraries
# they need at load time, extracted into a (git-ignored) cache directory.
# Run by `make slurm`.
#
# Usage: hack/fetch-slurm.sh [--daemons] [--snapshot DIR | --no-snapshot] [--export DIR] [CACHE_DIR]
#
#   CACHE_DIR defaults to .cache/slurm under the repository root (the script
#   writes a .gitignore containing "*" into it).  A relative CACHE_DIR given
#   on the command line is taken relative to the caller's working directory.
#
#   --snapshot DIR   build the roots from a snapshot of .deb files (one folder
#                    per suite, and a SHA256SUMS over them), never from the
#                    archive.  Default: $PLUGINCHECK_DEBIAN_SNAPSHOT, else the
#                    snapshot kept beside the clone (../shared/debian) when it
#                    exists.
#   --no-snapshot    ignore any snapshot and fetch from the Debian archive.
#   --daemons        make the daemon roots `plugincheck e2e` runs instead: the
#                    same suites, plus Debian's slurmctld, slurmd and
#                    slurm-client, with the closure of every daemon and client
#                    program.  CACHE_DIR defaults to .cache/slurm-daemons (a
#                    separate cache: the plugin roots are never touched).  Its
#                    snapshot folders are <suite>-daemons/; a suite whose
#                    folder the snapshot lacks comes from the archive.
#   --export DIR     after the roots are ready, write the .debs that compose
#                    them to DIR/<suite>/ with DIR/SHA256SUMS: the snapshot
#                    layout, so a snapshot is refreshed in one step:
#                        hack/fetch-slurm.sh --no-snapshot --export NEW $(mktemp -d)
#
# Where packages come from.  With a snapshot, a suite's root is exactly the
# .debs of its folder: each is checked against SHA256SUMS first (a file that
# is missing, unlisted or altered is an error), and neither apt nor the
# network is used (`unshare -n hack/fetch-slurm.sh` works).  The snapshot is
# the record of which packages make a root.  Without one, the packages are
# computed from the archive as described below, and --export turns the
# result into a snapshot.
#
# Result: one directory per generation, named after the upstream Slurm version
# actually served by the Debian suite, each being the root of an extracted
# filesystem tree (dpkg -x):
#
#   $CACHE/20.11.4   bullseye (+ bullseye-security)   plugins + all their libs but glibc
#   $CACHE/22.05.8   bookworm (+ bookworm-security)   plugins + all their libs but glibc
#   $CACHE/24.11.5   trixie                           plugins + complete sysroot (own libc6)
#   $CACHE/26.05.5   sid                              plugins + complete sysroot (own libc6)
#
# The plugins live in $ROOT/usr/lib/x86_64-linux-gnu/slurm-wlm/.  The roots are
# laid out merged-/usr style (lib -> usr/lib, lib64 -> usr/lib64), so every
# library is in $ROOT/usr/lib/x86_64-linux-gnu:
#
#   bullseye/bookworm: LD_LIBRARY_PATH=$ROOT/usr/lib/x86_64-linux-gnu (host libc)
#   trixie/sid:        $ROOT/usr/lib64/ld-linux-x86-64.so.2 \
#                          --library-path $ROOT/usr/lib/x86_64-linux-gnu ...
#                      (their plugins need glibc >= 2.38, bookworm has 2.36)
#
# Which packages go into a root is computed, not listed: starting from the
# plugin packages (plus libc6/libgcc-s1 for the sysroot generations), the
# DT_NEEDED closure of auth_*.so, cred_*.so and libslurmfull.so is computed
# with readelf; every soname that resolves neither inside the root nor (for
# bullseye/bookworm only) in the host's /lib/x86_64-linux-gnu and
# /usr/lib/x86_64-linux-gnu is looked up among the Depends of the package that
# needs it, fetched from the same suite, and the closure recomputed.  Host
# libraries count only if they belong to the host's libc6 (HOST_BASELINE_PKGS):
# libmunge2, libjansson4, libssl3... are fetched even when installed here, so
# a root does not depend on what else happens to be installed.  The final
# closure is verified strictly (and with the real dynamic loader) before a
# root is published; an unresolvable library is a hard error naming it.
#
# Only `apt-get update`, `apt-get download` and `dpkg -x` are used.  apt runs
# with a private state under $CACHE/.apt (sources, lists, archive cache; the
# host's dpkg status, preferences and source lists are not read; host hooks
# such as APT::Update::Post-Invoke are disabled), so the host's apt state is
# not touched.  The archive URIs are taken from the host's apt configuration:
# the entry serving <host-codename> main and the one serving
# <host-codename>-security.  No host name is written in this script.
#
# Idempotence: the .debs are kept under $CACHE/.debs/<suite>; a root is built
# in a temporary directory, gets its stamp file $ROOT/.complete and is then
# renamed into place.  The stamp records where the packages came from
# (`source snapshot DIGEST` or `source archive URI`), each package with its
# version and the SHA-256 of its .deb, and the SHA-256 of libslurmfull.so and
# of every plugin.  A suite whose stamp exists is skipped — with a snapshot,
# only when the stamp names that snapshot's digest for the suite, so a
# changed snapshot rebuilds its roots; when every suite is ready the script
# makes no network access at all.  To refresh a generation from the archive,
# delete its directory (or the whole cache).

set -euo pipefail

# ---------------------------------------------------------------------------
# Configuration

# Debian suites, in the order they are fetched.
SUITES=(bullseye bookworm trixie sid)
# suite -> expected upstream series (only used to warn when a suite moved on)
declare -A EXPECTED_SERIES=([bullseye]=20.11 [bookworm]=22.05 [trixie]=24.11 [sid]=26.05)
# Suites that also get <suite>-security.
declare -A WITH_SECURITY=([bullseye]=1 [bookworm]=1)
# Suites whose root is a complete sysroot: it gets its own C library and its
# closure must resolve entirely inside the root (the host's older libs are
# never used for them).
declare -A SYSROOT=([trixie]=1 [sid]=1)

REQUIRED_PKGS=(slurm-wlm-basic-plugins)
# --daemons: what a private cluster of the generation runs.
DAEMON_PKGS=(slurmctld slurmd slurm-client)
# The client programs e2e runs: their closure must resolve (sh5util's HDF5,
# sview's GTK… are left out).
CLIENT_PROGS=(srun sbatch salloc sbcast scancel scontrol sinfo squeue)
OPTIONAL_PKGS=(slurm-wlm-jwt-plugin) # not built for bullseye (auth_jwt is in basic-plugins there)
# libgcc-s1 is not in any DT_NEEDED but glibc dlopen()s libgcc_s.so.1 for
# pthread_cancel/pthread_exit unwinding; libc6 Depends on it.
SYSROOT_PKGS=(libc6 libgcc-s1)

ARCH=amd64
TRIPLET=x86_64-linux-gnu
# bullseye/bookworm roots use the host's loader and C library, so a soname may
# resolve to a host library if it is in one of these dirs AND belongs to one
# of the host packages in HOST_BASELINE_PKGS.  Libraries that merely happen to
# be installed on this host (libmunge2, libjansson4, libssl3, ...) are fetched
# into the root anyway, so a root neither depends on nor silently changes with
# what else is installed here.
HOST_LIBDIRS=("/lib/$TRIPLET" "/usr/lib/$TRIPLET")
HOST_BASELINE_PKGS=(libc6)
# Bump when the layout or the content rules of the roots change: roots with
# another stamp format are rebuilt.
STAMP_FORMAT=1
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# ---------------------------------------------------------------------------
# Helpers

log() { printf '%s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
	printf 'fetch-slurm: ERROR: %s\n' "$*" >&2
	exit 1
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")

usage() { die "usage: $0 [--daemons] [--snapshot DIR | --no-snapshot] [--export DIR] [CACHE_DIR]"; }

SNAPSHOT=${PLUGINCHECK_DEBIAN_SNAPSHOT:-}
# CI lays the project's shared material out beside the clone.
[[ -z $SNAPSHOT && -f $REPO_ROOT/../shared/debian/SHA256SUMS ]] && SNAPSHOT=$REPO_ROOT/../shared/debian
EXPORT=
CACHE=$REPO_ROOT/.cache/slurm
cache_given=
DAEMONS=
# SFX: what a suite's snapshot folder adds to the suite's name.
SFX=
while [[ $# -gt 0 ]]; do
	case $1 in
	--daemons)
		DAEMONS=1 SFX=-daemons
		[[ -n $cache_given ]] || CACHE=$REPO_ROOT/.cache/slurm-daemons
		REQUIRED_PKGS+=("${DAEMON_PKGS[@]}")
		shift
		;;
	--snapshot)
		[[ $# -ge 2 && -n $2 ]] || usage
		SNAPSHOT=$2
		shift 2
		;;
	--no-snapshot)
		SNAPSHOT=
		shift
		;;
	--export)
		[[ $# -ge 2 && -n $2 ]] || usage
		EXPORT=$(realpath -m -- "$2")
		shift 2
		;;
	-*) usage ;;
	*)
		[[ -z $cache_given && -n $1 ]] || usage
		CACHE=$(realpath -m -- "$1")
		cache_given=1
		shift
		;;
	esac
done
if [[ -n $SNAPSHOT ]]; then
	[[ -f $SNAPSHOT/SHA256SUMS ]] || die "snapshot $SNAPSHOT has no SHA256SUMS"
	SNAPSHOT=$(realpath -- "$SNAPSHOT")
fi
cd "$REPO_ROOT"
CACHE=${CACHE%/}
# How paths are shown: relative to the repository root when inside it.
DISPLAY_CACHE=$CACHE
[[ $CACHE == "$REPO_ROOT"/* ]] && DISPLAY_CACHE=${CACHE#"$REPO_ROOT"/}

mkdir -p "$CACHE"
# The cache must never be committed, whatever the repository's .gitignore says.
[[ -f $CACHE/.gitignore ]] || printf '*\n' >"$CACHE/.gitignore"

# One run at a time per cache directory.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	log "fetch-slurm: waiting for another run to release $DISPLAY_CACHE/.lock"
	flock 9
fi

# Leftovers of an interrupted run (never complete roots: see build_suite).
rm -rf -- "$CACHE"/.tmp-*

TMPDIRS=()
cleanup() {
	local d
	for d in "${TMPDIRS[@]}"; do
		[[ -n $d && -e $d ]] && rm -rf -- "$d"
	done
	return 0
}
trap cleanup EXIT

# snapshot_sums SUITE: the SHA256SUMS lines of SUITE's folder of the
# snapshot, sorted ("HASH  ./suite/file.deb"; ./suite-daemons/ with --daemons).
snapshot_sums() {
	grep -E "^[0-9a-f]{64}  \./$1$SFX/[^/]+\.deb$" "$SNAPSHOT/SHA256SUMS" | LC_ALL=C sort -k2 || true
}

# suite_snapshot SUITE: print the snapshot SUITE's root is built from, or
# nothing (archive).  Without --daemons a snapshot must hold every suite;
# with it, a snapshot made before daemons were exported holds none.
suite_snapshot() {
	[[ -n $SNAPSHOT ]] || return 0
	if [[ -n $DAEMONS && -z $(snapshot_sums "$1") ]]; then
		return 0
	fi
	printf '%s\n' "$SNAPSHOT"
}

# snapshot_digest SUITE: one hash naming the snapshot's content for SUITE.
snapshot_digest() { snapshot_sums "$1" | sha256sum | cut -d' ' -f1; }

# wanted_source SUITE: the `source` line a ready root of SUITE must carry, or
# nothing when any root will do (no snapshot: the archive's, whenever made).
wanted_source() {
	[[ -n $(suite_snapshot "$1") ]] && printf 'source snapshot %s\n' "$(snapshot_digest "$1")"
	return 0
}

# ready_version SUITE: print the Slurm version of the completed root for
# SUITE, if any.
ready_version() {
	local stamp want
	want=$(wanted_source "$1")
	for stamp in "$CACHE"/*/.complete; do
		[[ -f $stamp ]] || continue
		if grep -qx "suite $1" "$stamp" && grep -qx "format $STAMP_FORMAT" "$stamp" &&
			{ [[ -z $want ]] || grep -qxF "$want" "$stamp"; }; then
			basename "$(dirname "$stamp")"
			return 0
		fi
	done
	return 1
}

print_ready() { # suite version
	printf 'slurm: %s ready at %s/%s (%s)\n' "$2" "$DISPLAY_CACHE" "$2" "$1"
}

# ---------------------------------------------------------------------------
# Archive URIs from the host's apt configuration

# host_sources: print "URI<TAB>SUITE<TAB>COMPONENTS<TAB>SIGNED-BY" for every
# enabled "deb" entry of the host's sources (one-line and deb822 formats).
host_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk '
		{ sub(/#.*/, "") }
		$1 != "deb" { next }
		{
			i = 2; opts = ""
			if ($i ~ /^\[/) {
				while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break }; i++ }
			}
			uri = $i; suite = $(i + 1); comps = ""
			for (j = i + 2; j <= NF; j++) comps = comps " " $j
			sb = ""
			if (match(opts, /signed-by=[^] ]*/)) sb = substr(opts, RSTART + 10, RLENGTH - 10)
			if (uri != "" && suite != "") printf "%s\t%s\t%s\t%s\n", uri, suite, comps, sb
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk '
		function flush(   n, m, a, b, i, j, c) {
			if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
				n = split(uris, a, " "); m = split(suites, b, " ")
				for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
					printf "%s\t%s\t%s\t%s\n", a[i], b[j], comps, sb
			}
			types = uris = suites = comps = sb = enabled = ""; last = ""
		}
		/^#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]/ { if (last == "signed-by") sb = sb " (inline)"; next }  # continuation line
		{
			key = tolower($0); sub(/:.*/, "", key)
			val = $0; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
			last = key
			if (key == "types") types = val
			else if (key == "uris") uris = val
			else if (key == "suites") suites = val
			else if (key == "components") comps = " " val
			else if (key == "signed-by") sb = val
			else if (key == "enabled") enabled = val
		}
		END { flush() }' "$f"
	done
}

# pick_uri SUITE PATH-SUFFIX: the URI of the best host entry serving SUITE
# with component main.  Entries trusted through the Debian archive keyring (or
# the default trust store) are preferred over third-party repositories that
# happen to use the same suite name, then URIs whose path ends in PATH-SUFFIX.
pick_uri() {
	host_sources | awk -F '\t' -v want="$1" -v suf="$2" '
		$2 == want && ($3 " ") ~ / main / {
			score = 0
			if ($4 == "" || $4 ~ /debian-archive-keyring/) score += 2
			u = $1; sub(/\/+$/, "", u)
			if (substr(u, length(u) - length(suf) + 1) == suf) score += 1
			if (score > best) { best = score; pick = u }
		}
		BEGIN { best = -1 }
		END { if (pick != "") print pick }'
}

# archive_setup: check what fetching from the archive needs, find the
# archive URIs and write the private apt configuration.  Only archive runs
# call it: a snapshot run never touches apt.
MAIN_URI= SECURITY_URI= APTDIR=$CACHE/.apt
archive_setup() {
	[[ -z $MAIN_URI ]] || return 0
	local tool f
	for tool in apt-get apt-cache; do
		command -v "$tool" >/dev/null || die "required tool '$tool' not found"
	done
	[[ -r $KEYRING ]] || die "$KEYRING not found (package debian-archive-keyring)"

	# shellcheck source=/dev/null
	HOST_CODENAME=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	HOST_CODENAME=${HOST_CODENAME:-bookworm}
	MAIN_URI=$(pick_uri "$HOST_CODENAME" /debian)
	SECURITY_URI=$(pick_uri "$HOST_CODENAME-security" /debian-security)
	[[ -n $MAIN_URI ]] ||
		die "no apt source for '$HOST_CODENAME main' found in /etc/apt/sources.list{,.d/*.list,.d/*.sources}"
	if [[ -z $SECURITY_URI ]]; then
		warn "no apt source for '$HOST_CODENAME-security' found; fetching bullseye/bookworm without their security updates"
	fi
	log "fetch-slurm: archive $MAIN_URI${SECURITY_URI:+, security $SECURITY_URI}"
	apt_config
}

# apt_config: the private apt configuration under $APTDIR.
apt_config() {
	local f
	mkdir -p "$APTDIR/conf/parts" "$APTDIR/conf/empty.d"
	# Keep the host's apt.conf.d (proxies, transports, index compression, ...) by
	# linking to it, but read it through our own main file, which comes last and
	# clears the hooks that would otherwise run on our private `apt-get update`.
	find "$APTDIR/conf/parts" -mindepth 1 -delete
	for f in /etc/apt/apt.conf.d/*; do
		[[ -f $f ]] && ln -s "$f" "$APTDIR/conf/parts/"
	done
	[[ -f /etc/apt/apt.conf ]] && ln -s /etc/apt/apt.conf "$APTDIR/conf/parts/zzzz-host-apt.conf"
	cat >"$APTDIR/conf/main.conf" <<'EOF'
// Generated by hack/fetch-slurm.sh: no hooks, no pinning for private fetches.
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
#clear APT::Default-Release;
EOF
	cat >"$APTDIR/conf/apt.conf" <<EOF
Dir::Etc::parts "$APTDIR/conf/parts";
Dir::Etc::main "$APTDIR/conf/main.conf";
EOF
	export APT_CONFIG=$APTDIR/conf/apt.conf
}

# apt_opts SUITE: fill the global array APT_OPTS for SUITE's private state.
apt_opts() {
	local d=$APTDIR/$1
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$d/sources.list"
		-o "Dir::Etc::SourceParts=$APTDIR/conf/empty.d"
		-o "Dir::Etc::Preferences=/dev/null"
		-o "Dir::Etc::PreferencesParts=$APTDIR/conf/empty.d"
		-o "Dir::State::Lists=$d/lists"
		-o "Dir::State::status=/dev/null"
		-o "Dir::Cache=$d/cache"
		# a binary cache, so each apt-cache/apt-get call does not re-parse
		# the Packages files (some host configs, e.g. Docker images, disable it)
		-o "Dir::Cache::pkgcache=pkgcache.bin"
		-o "Dir::Cache::srcpkgcache=srcpkgcache.bin"
		-o "APT::Architecture=$ARCH"
		-o "APT::Architectures=$ARCH"
		# we download into a directory that _apt may not be able to write
		-o "APT::Sandbox::User=root"
	)
}

# apt_setup SUITE: write SUITE's sources and run apt-get update.
apt_setup() {
	local suite=$1 d=$APTDIR/$1
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	{
		printf 'deb [arch=%s target=Packages signed-by=%s] %s %s main\n' \
			"$ARCH" "$KEYRING" "$MAIN_URI" "$suite"
		if [[ -n ${WITH_SECURITY[$suite]:-} && -n $SECURITY_URI ]]; then
			printf 'deb [arch=%s target=Packages signed-by=%s] %s %s-security main\n' \
				"$ARCH" "$KEYRING" "$SECURITY_URI" "$suite"
		fi
	} >"$d/sources.list"
	apt_opts "$suite"
	log "fetch-slurm: $suite: apt-get update"
	apt-get -q "${APT_OPTS[@]}" update --error-on=any >"$d/update.log" 2>&1 || {
		cat "$d/update.log" >&2
		die "$suite: apt-get update failed (sources: $d/sources.list)"
	}
}

# ---------------------------------------------------------------------------
# Fetching and extracting packages

declare -A DEB=()   # package -> path of its .deb   (current suite)
declare -A OWNER=() # file basename -> package      (current suite)
FETCH_ORDER=()

# pkg_available SUITE PKG: does the suite have a candidate for PKG?
pkg_available() {
	apt_opts "$1"
	# Not `| grep -q`: grep would stop reading at the first match, and
	# apt-cache's SIGPIPE then fails the pipeline (pipefail).
	[[ -n $(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$2" 2>/dev/null | sed -n '/^Package:/p') ]]
}

# fetch SUITE ROOT PKG...: download the PKGs not already in .debs, in one
# apt-get call (each call costs about a second of round trips), and extract
# each into ROOT, in the order given.
fetch() {
	local suite=$1 root=$2 pkg ver arch sha debdir=$CACHE/.debs/$1
	local -a pkgs=() want=()
	local -A file=() sum=()
	local -A recs=()
	shift 2
	apt_opts "$suite"
	mkdir -p "$debdir"
	for pkg in "$@"; do
		[[ -n ${DEB[$pkg]:-} || " ${pkgs[*]} " == *" $pkg "* ]] || pkgs+=("$pkg")
	done
	[[ ${#pkgs[@]} -gt 0 ]] || return 0
	# One apt-cache call for them all (each call loads the whole cache):
	# "PACKAGE VERSION ARCHITECTURE SHA256" lines.
	while read -r pkg ver arch sha; do
		recs[$pkg]="$ver $arch $sha"
	done < <(apt-cache "${APT_OPTS[@]}" show --no-all-versions "${pkgs[@]}" 2>/dev/null |
		awk '/^Package: /{p=$2} /^Version: /{v=$2} /^Architecture: /{a=$2} /^SHA256: /{h=$2}
			/^$/{if (p!="") print p, v, a, h; p=v=a=h=""} END{if (p!="") print p, v, a, h}')
	for pkg in "${pkgs[@]}"; do
		[[ -n ${recs[$pkg]:-} ]] || die "$suite: package $pkg not found"
		read -r ver arch sha <<<"${recs[$pkg]}"
		[[ -n $ver && -n $arch && -n $sha ]] || die "$suite: incomplete apt record for $pkg"
		file[$pkg]=$debdir/${pkg}_${ver//:/%3a}_${arch}.deb sum[$pkg]=$sha
		if [[ -f ${file[$pkg]} ]] && ! sha256sum --status -c <<<"$sha  ${file[$pkg]}"; then
			rm -f -- "${file[$pkg]}"
		fi
		if [[ ! -f ${file[$pkg]} ]]; then
			log "fetch-slurm: $suite: download $pkg $ver"
			want+=("$pkg=$ver")
		fi
	done
	if [[ ${#want[@]} -gt 0 ]]; then
		(cd "$debdir" && apt-get -q "${APT_OPTS[@]}" download "${want[@]}" >/dev/null) ||
			die "$suite: apt-get download ${want[*]} failed"
	fi
	for pkg in "${pkgs[@]}"; do
		[[ -f ${file[$pkg]} ]] || die "$suite: apt-get download did not produce ${file[$pkg]}"
		sha256sum --status -c <<<"${sum[$pkg]}  ${file[$pkg]}" || die "$suite: checksum mismatch for ${file[$pkg]}"
		extract "$pkg" "${file[$pkg]}" "$root"
	done
}

# extract PKG DEB ROOT: unpack DEB (the package PKG) into ROOT and record
# which package owns each of its files.
extract() {
	local pkg=$1 file=$2 root=$3 f
	# dpkg-deb -X lists what it extracts: one pass over the archive.
	while read -r f; do
		[[ $f == */ ]] || OWNER[${f##*/}]=$pkg
	done < <(dpkg-deb -X "$file" "$root")
	DEB[$pkg]=$file
	FETCH_ORDER+=("$pkg")
	sanitize_symlinks "$root"
}

# sanitize_symlinks ROOT: make absolute symlinks relative to ROOT, so that
# nothing inside the root points into the host.
sanitize_symlinks() {
	local root=$1 l t
	while IFS= read -r -d '' l; do
		t=$(readlink -- "$l")
		ln -sfn -- "$(realpath -m --relative-to="$(dirname "$l")" "$root$t")" "$l"
	done < <(find "$root" -type l -lname '/*' -print0)
}

# merge_usr ROOT: move /lib, /lib64 (and /bin, /sbin) under /usr and replace
# them by symlinks, like a merged-/usr system, so every library ends up in
# ROOT/usr/lib/$TRIPLET.
merge_usr() {
	local root=$1 d
	for d in lib lib64 bin sbin; do
		if [[ -d $root/$d && ! -L $root/$d ]]; then
			mkdir -p "$root/usr/$d"
			cp -a --no-clobber "$root/$d/." "$root/usr/$d/"
			rm -rf -- "${root:?}/$d"
		fi
		if [[ -d $root/usr/$d && ! -e $root/$d ]]; then
			ln -s "usr/$d" "$root/$d"
		fi
	done
}

# ---------------------------------------------------------------------------
# DT_NEEDED closure

needed() { readelf -d -- "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }

# is_elf FILE: does FILE start with the ELF magic (read by bash itself: this
# runs for every program of every closure pass, and a fork is not cheap).
is_elf() {
	local magic
	LC_ALL=C IFS= read -r -N4 magic <"$1" 2>/dev/null && [[ $magic == $'\x7fELF' ]]
}

# closure_roots ROOT: the objects whose closure must resolve (--daemons: and
# every program of the daemon and client packages).
closure_roots() {
	local dir=$1/usr/lib/$TRIPLET/slurm-wlm f
	for f in "$dir"/auth_*.so "$dir"/cred_*.so "$dir"/libslurmfull.so; do
		[[ -e $f ]] && printf '%s\n' "$f"
	done
	if [[ -n $DAEMONS ]]; then
		for f in "$1"/usr/sbin/slurm* "${CLIENT_PROGS[@]/#/$1/usr/bin/}"; do
			[[ -f $f && ! -L $f ]] && is_elf "$f" && printf '%s\n' "$f"
		done
	fi
	return 0
}

# closure_missing ROOT HOST STRICT: print "SONAME<TAB>NEEDER" for each
# unresolved soname in the closure.  HOST=1 lets sonames resolve in the host's
# library dirs (whose own dependencies are then the host's business).
# STRICT=1 searches only ROOT/usr/lib/$TRIPLET (the dir consumers put in their
# library path); otherwise also the not-yet-merged lib dirs.
closure_missing() {
	local root=$1 host=$2 strict=$3 f n d found
	local -a dirs queue
	local -A seen=()
	if [[ $strict == 1 ]]; then
		dirs=("$root/usr/lib/$TRIPLET")
	else
		dirs=("$root/usr/lib/$TRIPLET" "$root/lib/$TRIPLET" "$root/usr/lib64" "$root/lib64")
	fi
	# Slurm's programs find libslurmfull.so by their RUNPATH.
	[[ -z $DAEMONS ]] || dirs+=("$root/usr/lib/$TRIPLET/slurm-wlm")
	mapfile -t queue < <(closure_roots "$root")
	while [[ ${#queue[@]} -gt 0 ]]; do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		for n in $(needed "$f"); do
			[[ -n ${seen[$n]:-} ]] && continue
			seen[$n]=1
			found=
			for d in "${dirs[@]}"; do
				if [[ -e $d/$n ]]; then
					found=$d/$n
					break
				fi
			done
			if [[ -n $found ]]; then
				queue+=("$found")
				continue
			fi
			if [[ $host == 1 ]] && host_baseline_lib "$n"; then
				continue
			fi
			printf '%s\t%s\n' "$n" "$f"
		done
	done
}

# host_baseline_lib SONAME: succeed if SONAME is in a host library dir and
# belongs to one of the host packages in HOST_BASELINE_PKGS.  The packages'
# file lists are read once (host_baseline_init, before the suites start):
# closure_missing runs in a command substitution, where nothing it learnt
# would outlive the call, and `dpkg-query -S` reads every package's list.
declare -A HOST_BASELINE=()
host_baseline_init() {
	local f
	while read -r f; do
		[[ $f == */$TRIPLET/* ]] && HOST_BASELINE[${f##*/}]=yes
	done < <(dpkg-query -L "${HOST_BASELINE_PKGS[@]}" 2>/dev/null)
	return 0
}
host_baseline_lib() {
	local n=$1 d
	[[ -n ${HOST_BASELINE[$n]:-} ]] || return 1
	for d in "${HOST_LIBDIRS[@]}"; do
		[[ -e $d/$n ]] && return 0
	done
	return 1
}

# soname_regex SONAME: extended regex matching the Debian package names that
# conventionally ship SONAME (libfoo.so.3 -> libfoo3, libfoo3t64; libfoo2.so.0
# -> libfoo2-0; ...).
soname_regex() {
	local s=$1 base ver
	case $s in
	libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | \
		libutil.so.* | libanl.so.* | libmvec.so.* | ld-linux*.so.*)
		printf '^libc6$\n'
		return
		;;
	libz.so.1) printf '^zlib1g$\n' && return ;;
	esac
	if [[ $s != *.so.* ]]; then
		printf '^$\n'
		return
	fi
	base=${s%%.so.*} ver=${s#*.so.}
	base=${base,,} base=${base//_/-}
	[[ $base == libcrypto ]] && base=libssl
	base=${base//./\\.} base=${base//+/\\+}
	ver=${ver//./\\.} ver=${ver//+/\\+}
	printf '^%s-?%s(t64|g|c2|v5)?$\n' "$base" "$ver"
}

# deb_depends DEB: names of all packages in its Pre-Depends/Depends (all
# alternatives), one per line.
deb_depends() {
	dpkg-deb -f "$1" Pre-Depends Depends |
		sed 's/^[A-Za-z-]*:[[:space:]]*//' | tr ',|' '\n' |
		sed 's/([^)]*)//g; s/\[[^]]*\]//g; s/<[^>]*>//g; s/:[a-z0-9-]*$//; s/[[:space:]]//g' |
		grep -v '^$' | sort -u
}

# ---------------------------------------------------------------------------
# Building one generation

slurm_version() { # Debian version -> upstream Slurm version
	local v=$1
	v=${v#*:}      # epoch
	v=${v%-*}      # Debian revision
	v=${v##*+really} # "20.11.7+really20.11.4" -> "20.11.4"
	printf '%s\n' "$v"
}

# extract_snapshot SUITE ROOT: unpack every .deb of SUITE's folder of the
# snapshot into ROOT, each checked against SHA256SUMS.  The copies kept in
# $CACHE/.debs are what --export writes back.
extract_snapshot() {
	local suite=$1 root=$2 sums hash rel file copy pkg debdir=$CACHE/.debs/$1
	sums=$(snapshot_sums "$suite")
	[[ -n $sums ]] || die "snapshot $SNAPSHOT: SHA256SUMS lists no .deb for $suite$SFX"
	for file in "$SNAPSHOT/$suite$SFX"/*.deb; do
		[[ -e $file ]] || continue
		grep -qF "  ./$suite$SFX/${file##*/}" <<<"$sums" ||
			die "snapshot $SNAPSHOT: $suite$SFX/${file##*/} is not listed in SHA256SUMS"
	done
	mkdir -p "$debdir"
	while read -r hash rel; do
		file=$SNAPSHOT/${rel#./} copy=$debdir/${rel##*/}
		[[ -f $file ]] || die "snapshot $SNAPSHOT: ${rel#./} is listed in SHA256SUMS but missing"
		# Check the copy that is unpacked, not the file it was copied from.
		cp -f -- "$file" "$copy"
		sha256sum --status -c <<<"$hash  $copy" ||
			die "snapshot $SNAPSHOT: ${rel#./} does not match its SHA256SUMS line"
		pkg=$(dpkg-deb -f "$copy" Package)
		log "fetch-slurm: $suite: $pkg $(dpkg-deb -f "$copy" Version) (snapshot)"
		extract "$pkg" "$copy" "$root"
	done <<<"$sums"
	[[ -n ${DEB[slurm-wlm-basic-plugins]:-} ]] ||
		die "snapshot $SNAPSHOT: $suite has no slurm-wlm-basic-plugins"
}

# fetch_archive SUITE ROOT HOST: download the plugin packages (and, for a
# sysroot, the C library) of SUITE from the archive into ROOT.
fetch_archive() {
	local suite=$1 root=$2 host=$3 pkg
	archive_setup
	apt_setup "$suite"
	local -a pkgs=("${REQUIRED_PKGS[@]}")
	for pkg in "${OPTIONAL_PKGS[@]}"; do
		if pkg_available "$suite" "$pkg"; then
			pkgs+=("$pkg")
		else
			log "fetch-slurm: $suite: no package $pkg in this suite (skipped)"
		fi
	done
	[[ $host == 1 ]] || pkgs+=("${SYSROOT_PKGS[@]}")
	fetch "$suite" "$root" "${pkgs[@]}"
}

build_suite() {
	local suite=$1 host=1 tmp version debver series pkg missing soname needer owner cand source f
	local -a round
	local unresolved
	[[ -n ${SYSROOT[$suite]:-} ]] && host=0
	DEB=() OWNER=() FETCH_ORDER=()
	SNAP=$(suite_snapshot "$suite")

	tmp=$(mktemp -d "$CACHE/.tmp-$suite.XXXXXX")
	TMPDIRS+=("$tmp")
	chmod 755 "$tmp"

	if [[ -n $SNAP ]]; then
		extract_snapshot "$suite" "$tmp"
		source=$(wanted_source "$suite")
	else
		fetch_archive "$suite" "$tmp" "$host"
		source="source archive $MAIN_URI"
	fi

	debver=$(dpkg-deb -f "${DEB[slurm-wlm-basic-plugins]}" Version)
	version=$(slurm_version "$debver")
	[[ $version =~ ^[0-9][0-9A-Za-z.~+]*$ ]] || die "$suite: cannot derive a Slurm version from '$debver'"
	series=$(cut -d. -f1-2 <<<"$version")
	log "fetch-slurm: $suite: slurm-wlm-basic-plugins $debver -> $version"
	if [[ $series != "${EXPECTED_SERIES[$suite]}" ]]; then
		warn "$suite now serves Slurm $version, expected the ${EXPECTED_SERIES[$suite]} series"
	fi
	if [[ -z $(closure_roots "$tmp") || ! -e $tmp/usr/lib/$TRIPLET/slurm-wlm/libslurmfull.so ]]; then
		die "$suite: slurm-wlm-basic-plugins $debver has no libslurmfull.so / plugins in usr/lib/$TRIPLET/slurm-wlm"
	fi

	# Pull in libraries until the closure resolves (a snapshot holds all of
	# them already: what it lacks, verify_root names).
	for _ in $(seq 1 20); do
		[[ -n $SNAP ]] && break
		missing=$(closure_missing "$tmp" "$host" 0)
		[[ -z $missing ]] && break
		# One round: the packages of every soname missing now, fetched
		# together; what they need in turn is the next round's.
		# A soname no dependency is named after may come with another
		# soname's package (libpam_misc.so.0 with libpam0g): it waits for
		# the next round, and is an error only when nothing else is fetched.
		round=() unresolved=
		while IFS=$'\t' read -r soname needer; do
			owner=${OWNER[${needer##*/}]:-}
			[[ -n $owner ]] || die "$suite: $soname needed by $needer, which no fetched package owns"
			cand=$(deb_depends "${DEB[$owner]}" | grep -E "$(soname_regex "$soname")" | head -n1 || true)
			if [[ -z $cand || -n ${DEB[$cand]:-} ]]; then
				[[ -n $unresolved ]] ||
					unresolved="$suite: unresolved library $soname (needed by ${needer#"$tmp"/}, from package $owner); no dependency of $owner looks like it ships it (depends: $(deb_depends "${DEB[$owner]}" | tr '\n' ' '))"
				continue
			fi
			log "fetch-slurm: $suite: $soname (needed by ${needer##*/}) -> $cand"
			round+=("$cand")
		done <<<"$missing"
		[[ ${#round[@]} -gt 0 ]] || die "$unresolved"
		fetch "$suite" "$tmp" "${round[@]}"
	done

	merge_usr "$tmp"
	sanitize_symlinks "$tmp"
	[[ -z $DAEMONS ]] || alternatives "$tmp"
	verify_root "$suite" "$tmp" "$host"

	if [[ -e $CACHE/$version ]]; then
		if [[ -f $CACHE/$version/.complete ]] && ! grep -qx "suite $suite" "$CACHE/$version/.complete"; then
			die "$suite serves Slurm $version, which $CACHE/$version already holds for $(sed -n 's/^suite //p' "$CACHE/$version/.complete")"
		fi
		rm -rf -- "${CACHE:?}/$version"
	fi
	{
		printf '# Slurm plugin root written by hack/fetch-slurm.sh; lines: key value...\n'
		printf 'format %s\n' "$STAMP_FORMAT"
		printf 'suite %s\n' "$suite"
		printf 'slurm %s\n' "$version"
		printf '%s\n' "$source"
		[[ -z $DAEMONS ]] || printf 'daemons yes\n'
		if [[ $host == 0 ]]; then
			printf 'sysroot yes\n'
		else
			printf 'sysroot no\n'
		fi
		# package NAME VERSION FILE SHA256-OF-THE-DEB
		for pkg in "${FETCH_ORDER[@]}"; do
			printf 'package %s %s %s %s\n' "$pkg" "$(dpkg-deb -f "${DEB[$pkg]}" Version)" \
				"${DEB[$pkg]##*/}" "$(sha256sum <"${DEB[$pkg]}" | cut -d' ' -f1)"
		done
		# sha256 PATH HASH: the host library and every plugin, as tested
		while read -r f; do
			printf 'sha256 %s %s\n' "${f#"$tmp"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
		done < <(closure_roots "$tmp")
	} >"$tmp/.complete"
	mv -T -- "$tmp" "$CACHE/$version"
	# The package lists are only needed to fetch; they are the bulk of .apt.
	[[ -n $SNAP ]] || rm -rf -- "${APTDIR:?}/$suite/lists" "${APTDIR:?}/$suite/cache"
	print_ready "$suite" "$version"
}

# alternatives ROOT: the links Debian's maintainer scripts make with
# update-alternatives (slurmctld -> slurmctld-wlm, …): slurmd starts
# slurmstepd by its compiled-in path /usr/sbin/slurmstepd.
alternatives() {
	local f
	for f in "$1"/usr/sbin/*-wlm "$1"/usr/bin/*-wlm; do
		[[ -f $f && ! -e ${f%-wlm} ]] && ln -s "${f##*/}" "${f%-wlm}"
	done
	return 0
}

# verify_root SUITE ROOT HOST: strict closure check, then ask the dynamic
# loader that will be used (the root's own for sysroots, the host's otherwise)
# to load every plugin's dependencies.
verify_root() {
	local suite=$1 root=$2 host=$3 missing f out bad libdir=$2/usr/lib/$TRIPLET ldso
	[[ -z $DAEMONS ]] || libdir+=:$libdir/slurm-wlm
	missing=$(closure_missing "$root" "$host" 1)
	if [[ -n $missing ]]; then
		die "$suite: unresolved libraries in the closure of the plugins${SNAP:+ (the snapshot lacks them: refresh it with --export)}:" \
			"$(while IFS=$'\t' read -r s n; do printf '\n  %s (needed by %s)' "$s" "${n#"$root"/}"; done <<<"$missing")"
	fi
	while read -r f; do
		if [[ $host == 0 ]]; then
			ldso=$root/usr/lib64/ld-linux-x86-64.so.2
			[[ -x $ldso ]] || die "$suite: no dynamic loader at ${ldso#"$root"/}"
			out=$("$ldso" --library-path "$libdir" --list "$f" 2>&1) ||
				die "$suite: ${f#"$root"/} does not load with the root's loader:"$'\n'"$out"
			# every resolved path must be inside the root
			bad=$(awk -v r="$root/" '/=>/ && $3 != "" && index($3, r) != 1 { print "  " $0 }' <<<"$out")
			[[ -z $bad ]] || die "$suite: ${f#"$root"/} resolves libraries outside the root:"$'\n'"$bad"
		else
			out=$(LD_LIBRARY_PATH=$libdir ldd "$f" 2>&1) ||
				die "$suite: ldd ${f#"$root"/} failed:"$'\n'"$out"
		fi
		if grep -qE 'not found|No such file' <<<"$out"; then
			die "$suite: ${f#"$root"/} does not load:"$'\n'"$out"
		fi
	done < <(closure_roots "$root")
}

# export_snapshot DIR: write the .debs that compose the ready roots to
# DIR/<suite>/ and their SHA256SUMS, the layout --snapshot reads.  Suite
# folders and SHA256SUMS already in DIR are replaced; nothing else is touched.
export_snapshot() {
	local dir=$1 suite version stamp name ver file hash new
	mkdir -p "$dir"
	new=$(mktemp -d "$dir/.export.XXXXXX")
	TMPDIRS+=("$new")
	for suite in "${SUITES[@]}"; do
		version=$(ready_version "$suite") || die "export: no ready root for $suite"
		stamp=$CACHE/$version/.complete
		mkdir -p "$new/$suite$SFX"
		while read -r name ver file hash; do
			[[ -n $file && -f $CACHE/.debs/$suite/$file ]] ||
				die "export: $suite: the .deb of $name $ver is no longer in $DISPLAY_CACHE/.debs (delete $DISPLAY_CACHE/$version and run again)"
			cp -- "$CACHE/.debs/$suite/$file" "$new/$suite$SFX/$file"
			sha256sum --status -c <<<"$hash  $new/$suite$SFX/$file" ||
				die "export: $suite: $file does not match the hash its root recorded"
		done < <(sed -n 's/^package //p' "$stamp")
	done
	for suite in "${SUITES[@]}"; do
		rm -rf -- "${dir:?}/$suite$SFX"
		mv -T -- "$new/$suite$SFX" "$dir/$suite$SFX"
	done
	# Over every suite folder of DIR: the plugin export and the --daemons
	# export write into the same snapshot, in either order.
	(cd "$dir" && find . -mindepth 2 -maxdepth 2 -path './*/*.deb' -type f | LC_ALL=C sort |
		xargs sha256sum) >"$new/SHA256SUMS"
	mv -f -- "$new/SHA256SUMS" "$dir/SHA256SUMS"
	log "fetch-slurm: exported $(grep -c . "$dir/SHA256SUMS") packages to $dir"
}

# ---------------------------------------------------------------------------

if [[ -n $SNAPSHOT && -n $DAEMONS ]]; then
	log "fetch-slurm: snapshot $SNAPSHOT (its <suite>-daemons folders; a suite without one comes from the archive)"
elif [[ -n $SNAPSHOT ]]; then
	log "fetch-slurm: snapshot $SNAPSHOT (no archive access)"
else
	log "fetch-slurm: no snapshot; packages come from the Debian archive"
fi
todo=()
for suite in "${SUITES[@]}"; do
	if version=$(ready_version "$suite"); then
		print_ready "$suite" "$version"
	else
		todo+=("$suite")
	fi
done
if [[ ${#todo[@]} -gt 0 ]]; then
	[[ $(dpkg --print-architecture) == "$ARCH" ]] ||
		die "only $ARCH hosts are supported (this is $(dpkg --print-architecture))"
	for tool in dpkg dpkg-deb readelf sha256sum flock realpath; do
		command -v "$tool" >/dev/null || die "required tool '$tool' not found"
	done
	host_baseline_init
	# The private apt configuration is shared by the suites: written once,
	# before they start.
	for suite in "${todo[@]}"; do
		[[ -n $(suite_snapshot "$suite") ]] || archive_setup
	done
	# The suites are built at the same time, each in its own subshell (its
	# own package tables and temporary root): fetching from the archive is
	# mostly waiting for round trips, and a snapshot's are independent too.
	declare -A suite_of=()
	for suite in "${todo[@]}"; do
		(
			TMPDIRS=()
			trap cleanup EXIT
			trap 'exit 1' TERM
			build_suite "$suite"
		) &
		suite_of[$!]=$suite
	done
	# The first root that fails stops the others: its error is the run's.
	failed=
	while [[ ${#suite_of[@]} -gt 0 ]]; do
		if ! wait -n -p pid "${!suite_of[@]}" && [[ -z $failed ]]; then
			failed=${suite_of[$pid]}
			kill -TERM "${!suite_of[@]}" 2>/dev/null || true
		fi
		unset "suite_of[$pid]"
	done
	[[ -z $failed ]] || die "no root for $failed (see above)"
fi
[[ -z $EXPORT ]] || export_snapshot "$EXPORT"
