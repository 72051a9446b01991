#!/bin/sh
# Makes a Debian bookworm or trixie machine ready for the tests; safe to
# run again.
#  - Debian packages: Prosody (its dependencies; on bookworm, 0.12.3 itself,
#    whose Lua source is what the unit tests run), the Lua interpreters the
#    module must load on, luacheck, busted, LuaDBI's SQLite and PostgreSQL
#    drivers for SQL storage, lua-unbound (Prosody's resolver; the s2s
#    tests give it a hosts file), PostgreSQL (the tests start throwaway
#    clusters of their own, on loopback, on free ports:
#    harness/server/postgres.ts), LuaRocks (prosodyctl install), Chromium
#    (browser tests) and iproute2 (the benchmark's network namespace).
#    Installed as root, or with sudo; without either, setup stops and names
#    the packages to install.
#  - The three Prosody versions the tests run, fetched with apt-get
#    download (own sources list and lists folder, nothing installed) and
#    unpacked with dpkg -x into .cache, each only when its folder is
#    missing, with copies of their launchers (bin/prosody, bin/prosodyctl)
#    pointing into that folder:
#    - 0.12.3: on bookworm the installed package (/usr/lib/prosody); on
#      trixie bookworm's package in .cache/prosody-0.12, with bookworm's
#      ICU (libicu72, which its util/encodings.so needs) unpacked beside it
#      and the launchers shell wrappers that put it on the library path;
#    - 13.0.1 into .cache/prosody-13: bookworm-backports' build on
#      bookworm, trixie's own on trixie;
#    - the newest 13 (trixie-backports: 13.0.6 today) into
#      .cache/prosody-13-latest. On bookworm its C modules, which need
#      trixie's libc (2.38), are replaced by bookworm-backports' build of the
#      same 13.0 series (Debian's source packages are not always reachable):
#      the Lua code (core/, modules/, util/*.lua) is 13.0.6's;
#    - prosody-modules, the community modules (mod_invites_page,
#      mod_invites_register_web, …) the web registration tests load, into
#      .cache/prosody-modules (bookworm-backports, April 2025) and
#      .cache/prosody-modules-latest (trixie-backports, July 2026; Lua
#      only), modules in usr/lib/prosody/modules/.
#  - A self-signed certificate for "localhost" (.cache/tls), which the test
#    servers use and the test clients trust (NODE_EXTRA_CA_CERTS).
set -eu
cd "$(dirname "$0")/.."

PACKAGES="prosody openssl lua5.1 lua5.2 lua5.3 lua5.4 luajit lua-check lua-busted lua-dbi-sqlite3 lua-dbi-postgresql lua-unbound postgresql luarocks chromium iproute2"
BACKPORTS="bookworm-backports"
LATEST="trixie-backports"
CODENAME="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
case "$CODENAME" in
bookworm) SUITES="$BACKPORTS $LATEST"; P13_SUITE="$BACKPORTS" ;;
trixie) SUITES="bookworm $BACKPORTS trixie $LATEST"; P13_SUITE="trixie" ;;
*)
	echo "setup: made for Debian bookworm and trixie, this is ${CODENAME:-an unknown system}" >&2
	exit 1
	;;
esac
P012_DIR=".cache/prosody-0.12"
P13_DIR=".cache/prosody-13"
P13_LATEST_DIR=".cache/prosody-13-latest"
MODULES_DIR=".cache/prosody-modules"
MODULES_LATEST_DIR=".cache/prosody-modules-latest"
APT_DIR="$(pwd)/.cache/apt-backports"

missing=""
for package in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $package"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		as_root=""
	elif command -v sudo >/dev/null 2>&1; then
		as_root="sudo"
	else
		echo "setup: not root and no sudo: as root, run: apt-get update && apt-get install$missing" >&2
		exit 1
	fi
	# The first run on a new machine: about 100-300 MB of downloads (Chromium and PostgreSQL are most of it).
	echo "setup: installing Debian packages (the first time only; apt shows its progress):$missing"
	$as_root apt-get update
	# shellcheck disable=SC2086
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
# Debian's prosody package starts a system Prosody where systemd runs; the
# tests never use its port (each test server takes a free one), but say so.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prosody 2>/dev/null; then
	echo "setup: note: a system Prosody is running (Debian's package started it); the tests use their own ports. To stop it: systemctl disable --now prosody"
fi

# apt-get on bookworm-backports alone, with its own state: never the
# system's sources, lists, package cache or lock.
backports_apt() {
	apt-get -o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache::Archives=$APT_DIR/archives" \
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}
lists_updated=""

# unpack_backport PACKAGE DIR [SUITE]: the package's current version in
# SUITE (default bookworm-backports), unpacked into DIR (replaced whole,
# only once fully unpacked); its version goes to DIR/.deb-version.
unpack_backport() {
	suite="${3:-$BACKPORTS}"
	if [ -z "$lists_updated" ]; then
		mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial"
		for listed in $SUITES; do
			echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $listed main"
		done > "$APT_DIR/sources.list"
		echo "setup: reading the package lists of $SUITES"
		backports_apt update -qq
		lists_updated=1
	fi
	download="$APT_DIR/download"
	rm -rf "$download" "$2.partial"
	mkdir -p "$download" "$2.partial"
	echo "setup: downloading $1 from $suite"
	(cd "$download" && backports_apt download -q "$1/$suite")
	set -- "$1" "$2" "$suite" "$download"/*.deb
	if [ $# -ne 4 ] || [ ! -f "$4" ]; then
		echo "setup: apt-get download $1/$3 gave no single .deb in $download" >&2
		exit 1
	fi
	dpkg -x "$4" "$2.partial"
	dpkg-deb -f "$4" Version > "$2.partial/.deb-version"
	rm -rf "$2"
	mv "$2.partial" "$2"
	rm -rf "$download"
	echo "setup: unpacked $1 $(cat "$2/.deb-version") from $3 into $2"
}

# launchers DIR [LIBDIR]: copies of an unpacked Prosody's launchers in
# DIR/bin, pointing into DIR; with LIBDIR, shell wrappers that put LIBDIR
# on the library path first (bookworm's ICU for 0.12 on trixie).
launchers() {
	if [ ! -x "$1/bin/prosodyctl" ]; then
		mkdir -p "$1/bin"
		root="$(pwd)/$1/usr/lib/prosody"
		for launcher in prosody prosodyctl; do
			sed -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$root';|" \
				-e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$root/modules/';|" \
				"$1/usr/bin/$launcher" > "$1/bin/$launcher.lua"
			chmod +x "$1/bin/$launcher.lua"
			if [ -n "${2:-}" ]; then
				interpreter="$(head -n 1 "$1/usr/bin/$launcher" | sed -e 's|^#! */usr/bin/env *||' -e 's|^#! *||')"
				printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec %s "%s" "$@"\n' \
					"$(pwd)/$2" "$interpreter" "$(pwd)/$1/bin/$launcher.lua" > "$1/bin/$launcher.partial"
				chmod +x "$1/bin/$launcher.partial"
				mv "$1/bin/$launcher.partial" "$1/bin/$launcher"
			else
				mv "$1/bin/$launcher.lua" "$1/bin/$launcher"
			fi
		done
	fi
}

# expect_version DIR PREFIX SUITE: stops unless DIR holds a Prosody PREFIX*.
expect_version() {
	case "$(cat "$1/usr/lib/prosody/prosody.version")" in
	"$2"*) ;;
	*)
		echo "setup: $3 has Prosody $(cat "$1/usr/lib/prosody/prosody.version"), not $2x" >&2
		exit 1
		;;
	esac
}

if [ ! -f "$P13_DIR/usr/lib/prosody/prosody.version" ]; then
	unpack_backport prosody "$P13_DIR" "$P13_SUITE"
	expect_version "$P13_DIR" "13." "$P13_SUITE"
fi
launchers "$P13_DIR"

# (An icu/ folder too: an earlier layout of this folder had none, and 13's C modules.)
if [ "$CODENAME" = trixie ] && { [ ! -f "$P012_DIR/usr/lib/prosody/prosody.version" ] || [ ! -d "$P012_DIR/icu" ]; }; then
	unpack_backport prosody "$P012_DIR.download" bookworm
	expect_version "$P012_DIR.download" "0.12." bookworm
	# bookworm's build of 0.12.3 as it is; its util/encodings.so needs
	# bookworm's ICU (libicu72), which trixie does not have: unpacked beside
	# it, on the launchers' library path.
	unpack_backport libicu72 "$P012_DIR.icu" bookworm
	mv "$P012_DIR.icu" "$P012_DIR.download/icu"
	rm -rf "$P012_DIR"
	mv "$P012_DIR.download" "$P012_DIR"
fi
if [ -d "$P012_DIR" ]; then
	icu_so="$(find "$P012_DIR/icu" -name 'libicuuc.so.72*' | head -n 1)"
	if [ -z "$icu_so" ]; then
		echo "setup: no libicuuc.so.72 in $P012_DIR/icu: remove $P012_DIR and run setup again" >&2
		exit 1
	fi
	launchers "$P012_DIR" "$(dirname "$icu_so")"
	P012_SOURCE="$P012_DIR/usr/lib/prosody"
else
	P012_SOURCE="/usr/lib/prosody"
fi

if [ ! -f "$P13_LATEST_DIR/usr/lib/prosody/prosody.version" ]; then
	unpack_backport prosody "$P13_LATEST_DIR.download" "$LATEST"
	expect_version "$P13_LATEST_DIR.download" "13." "$LATEST"
	if [ "$CODENAME" = bookworm ]; then
		# trixie's C modules need its libc: bookworm-backports' build of 13.0 instead.
		for so in "$P13_LATEST_DIR.download"/usr/lib/prosody/util/*.so; do
			cp "$P13_DIR/usr/lib/prosody/util/$(basename "$so")" "$so"
		done
		echo "$(cat "$P13_DIR/.deb-version")" > "$P13_LATEST_DIR.download/.c-modules-version"
	else
		echo "$(cat "$P13_LATEST_DIR.download/.deb-version")" > "$P13_LATEST_DIR.download/.c-modules-version"
	fi
	rm -rf "$P13_LATEST_DIR"
	mv "$P13_LATEST_DIR.download" "$P13_LATEST_DIR"
fi
launchers "$P13_LATEST_DIR"

# unpack_modules DIR SUITE: prosody-modules of SUITE, unless DIR has the modules the tests load.
unpack_modules() {
	for module in invites_page invites_register_web register_apps password_policy; do
		if [ ! -f "$1/usr/lib/prosody/modules/mod_$module/mod_$module.lua" ]; then
			unpack_backport prosody-modules "$1" "$2"
			break
		fi
	done
}
unpack_modules "$MODULES_DIR" "$BACKPORTS"
unpack_modules "$MODULES_LATEST_DIR" "$LATEST"

if [ ! -f .cache/tls/localhost.crt ]; then
	mkdir -p .cache/tls
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost" \
		-keyout .cache/tls/localhost.key -out .cache/tls/localhost.crt 2>/dev/null
fi

postgres_version="$(dpkg-query -W -f='${Version}' postgresql 2>/dev/null || echo none)"
echo "setup: Debian $CODENAME, Prosody $(cat "$P012_SOURCE/prosody.version"), $(cat "$P13_DIR/usr/lib/prosody/prosody.version") and $(cat "$P13_LATEST_DIR/usr/lib/prosody/prosody.version") (C modules of $(cat "$P13_LATEST_DIR/.c-modules-version")) ready, community modules $(cat "$MODULES_DIR/.deb-version") and $(cat "$MODULES_LATEST_DIR/.deb-version"), PostgreSQL $postgres_version"
