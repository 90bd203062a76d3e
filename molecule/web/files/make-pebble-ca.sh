#!/bin/sh
# A small CA for pebble's own HTTPS endpoints (Debian's pebble ships no test
# certificates): ca.pem signs localhost.pem. Strict enough for Python 3.13's
# default verification (CA basic constraints and key usage, key identifiers).
set -eu
dir=/etc/pebble
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca-key.pem -out ca.pem -days 30 -subj "/CN=herd test pebble CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout localhost-key.pem -out localhost.csr -subj "/CN=localhost"
printf '%s\n' \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  "subjectKeyIdentifier=hash" \
  "authorityKeyIdentifier=keyid" > localhost.ext
openssl x509 -req -in localhost.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -days 30 -extfile localhost.ext -out localhost.pem
rm -f localhost.csr localhost.ext
