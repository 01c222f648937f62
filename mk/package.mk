# The npm package (issue 14): `make package` writes build/package/kprobe-bpf-VERSION.tgz,
# which `npm install -g` or `npx` installs on a machine with only Node. What
# goes in is package.json's `files`: dist/ without tests and benches (with
# type declarations), and the libbpf wasm build with its bpf UAPI tables.
.PHONY: package
package: build
	@mkdir -p build/package
	npm pack --pack-destination build/package --loglevel=error
