#!/bin/sh
# Makes a Debian bookworm machine ready for the tests; safe to run again.
#  - Debian packages: Prosody 0.12.3 (its Lua source is what the unit tests
#    run), the Lua interpreters the module must load on, luacheck, busted,
#    and LuaDBI's SQLite driver for SQL storage.
#  - Prosody 13.0.1 from bookworm-backports, which cannot be installed beside
#    0.12: its .deb is fetched with apt (own sources list and lists folder)
#    and unpacked into .cache/prosody-13.0.1, with copies of its launchers
#    (bin/prosody, bin/prosodyctl) pointing into that folder.
#  - A self-signed certificate for "localhost" (.cache/tls), which the test
#    servers use and the test clients trust (NODE_EXTRA_CA_CERTS).
set -eu
cd "$(dirname "$0")/.."

PACKAGES="prosody openssl lua5.1 lua5.2 lua5.3 lua5.4 luajit lua-check lua-busted lua-dbi-sqlite3"
P13_VERSION="13.0.1-1~bpo12+1"
P13_DIR=".cache/prosody-13.0.1"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=""
for package in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $package"
	fi
done
if [ -n "$missing" ]; then
	echo "setup: installing Debian packages:$missing"
	as_root apt-get update -qq
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ ! -f "$P13_DIR/usr/lib/prosody/prosody.version" ]; then
	echo "setup: fetching Prosody $P13_VERSION from bookworm-backports into $P13_DIR"
	apt_dir="$(pwd)/.cache/apt-backports"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" > "$apt_dir/sources.list"
	set -- -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives" \
		-o APT::Sandbox::User=root -o Debug::NoLocking=1
	apt-get "$@" update -qq
	deb="prosody_$(echo "$P13_VERSION" | sed 's/:/%3a/')_$(dpkg --print-architecture).deb"
	(cd "$apt_dir" && apt-get "$@" download -qq "prosody=$P13_VERSION")
	rm -rf "$P13_DIR"
	mkdir -p "$P13_DIR"
	dpkg -x "$apt_dir/$deb" "$P13_DIR"
fi
if [ ! -x "$P13_DIR/bin/prosodyctl" ]; then
	mkdir -p "$P13_DIR/bin"
	root="$(pwd)/$P13_DIR/usr/lib/prosody"
	for launcher in prosody prosodyctl; do
		sed -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$root';|" \
			-e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$root/modules/';|" \
			"$P13_DIR/usr/bin/$launcher" > "$P13_DIR/bin/$launcher"
		chmod +x "$P13_DIR/bin/$launcher"
	done
fi

if [ ! -f .cache/tls/localhost.crt ]; then
	mkdir -p .cache/tls
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost" \
		-keyout .cache/tls/localhost.key -out .cache/tls/localhost.crt 2>/dev/null
fi

echo "setup: Prosody $(cat /usr/lib/prosody/prosody.version) and $(cat "$P13_DIR/usr/lib/prosody/prosody.version") ready"
