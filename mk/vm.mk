# The throwaway QEMU guest that gives the test suite a kernel with kprobes
# (this host's kernel has CONFIG_KPROBES off; shared/design/kernel-vm.md).
# Everything is cached under build/vm/ and rebuilt only when an input changes.
#
#   make vm         kernel + initramfs + manifest + the guest suite's fixtures
#   make vm-deps    installs just the guest's Debian packages if missing

VM_APT_PACKAGES := qemu-system-x86 linux-image-amd64 busybox-static cpio kmod xz-utils clang libbpf-dev
APT_PACKAGES += $(VM_APT_PACKAGES)
BUILD_TARGETS += vm

VM_DIR := build/vm
# The guest runs Debian's linux-image-amd64 kernel (6.1), never the host's
# running one: its release is the package the meta-package depends on.
GUEST_KVER := $(shell dpkg-query -W -f='$${Depends}' linux-image-amd64 2>/dev/null | grep -o 'linux-image-[0-9][^ ,]*' | head -1 | sed 's/^linux-image-//')
VM_KERNEL := $(VM_DIR)/vmlinux-$(GUEST_KVER)
VM_INITRAMFS := $(VM_DIR)/initramfs-$(GUEST_KVER).cpio
VM_MANIFEST := $(VM_DIR)/guest.json

# Built on the host before boot: the guest is ~18x slower than the host.
VM_FIX_SRC := test/guest/fixtures
VM_FIX := $(VM_DIR)/fixtures
VM_FIXTURES := $(VM_FIX)/kprobe_count.bpf.o $(VM_FIX)/libbpf_attach $(VM_FIX)/uprobe_target $(VM_FIX)/kprobe_workload
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

.PHONY: vm vm-deps vm-fixtures
ifeq ($(GUEST_KVER),)
# GUEST_KVER is read when make starts; on a fresh machine apt-deps installs
# the kernel package later in the same run, so look again in a sub-make.
vm: apt-deps
	@if dpkg-query -W -f='$${Depends}' linux-image-amd64 2>/dev/null | grep -q 'linux-image-[0-9]'; then \
	  $(MAKE) --no-print-directory vm; \
	else echo "vm: linux-image-amd64 is not installed, guest images not built (make vm-deps installs it)"; fi
else
vm: $(VM_KERNEL) $(VM_INITRAMFS) $(VM_MANIFEST) vm-fixtures
endif

vm-deps:
	@$(MAKE) --no-print-directory apt-deps APT_PACKAGES='$(VM_APT_PACKAGES)'

vm-fixtures: $(VM_FIXTURES)

$(VM_KERNEL): /boot/vmlinuz-$(GUEST_KVER) test/vm/extract-vmlinux.sh
	@mkdir -p $(@D)
	test/vm/extract-vmlinux.sh $< $@

$(VM_INITRAMFS): /bin/busybox /lib/modules/$(GUEST_KVER)/modules.dep test/vm/init.sh test/vm/mkinitramfs.sh
	@mkdir -p $(@D)
	test/vm/mkinitramfs.sh $(GUEST_KVER) test/vm/init.sh $@

# What the harness boots; it reads this instead of re-deriving the release.
$(VM_MANIFEST): $(VM_KERNEL) $(VM_INITRAMFS)
	@printf '{"release":"%s","kernel":"%s","initramfs":"%s","fixtures":"%s"}\n' \
	  '$(GUEST_KVER)' '$(abspath $(VM_KERNEL))' '$(abspath $(VM_INITRAMFS))' '$(abspath $(VM_FIX))' > $@

$(VM_FIX)/%.bpf.o: $(VM_FIX_SRC)/%.bpf.c
	@mkdir -p $(@D)
	clang -target bpf -O2 -g -D__TARGET_ARCH_x86 -I/usr/include/$(MULTIARCH) -Wall -c $< -o $@

$(VM_FIX)/libbpf_attach: $(VM_FIX_SRC)/libbpf_attach.c
	@mkdir -p $(@D)
	gcc -O2 -Wall -o $@ $< -lbpf

$(VM_FIX)/uprobe_target: $(VM_FIX_SRC)/uprobe_target.c
	@mkdir -p $(@D)
	gcc -O1 -g -Wall -o $@ $<

# Static: after execve it makes only its own system calls (kprobe-diff.test.ts).
$(VM_FIX)/kprobe_workload: $(VM_FIX_SRC)/kprobe_workload.c
	@mkdir -p $(@D)
	gcc -O1 -static -Wall -o $@ $<

# The second guest kernel: Debian's 6.12 from bookworm-backports, fetched
# with a private apt state and unpacked under build/vm612/kernel (never
# installed on the host; test/vm/fetch-kernel.sh). It is fetched once; its
# images are rebuilt when the scripts that make them change.
#
#   make vm612          kernel + initramfs + manifest (+ the shared fixtures)
#   make vm612-kernel   just the download and unpack
# `make build` tolerates a failed download (no network): test/vm.test.ts
# then skips the 6.12 guest, saying why; any other failure stops the build.
VM612_SUITE := bookworm-backports
VM612_DIR := build/vm612
VM612_KDIR := $(VM612_DIR)/kernel
VM612_RELEASE := $(VM612_KDIR)/release
VM612_KERNEL := $(VM612_DIR)/vmlinux
VM612_INITRAMFS := $(VM612_DIR)/initramfs.cpio
VM612_MANIFEST := $(VM612_DIR)/guest.json
BUILD_TARGETS += vm612-if-reachable

.PHONY: vm612 vm612-kernel vm612-if-reachable
vm612: $(VM612_MANIFEST) vm-fixtures
vm612-kernel: $(VM612_RELEASE)
vm612-if-reachable:
	@if $(MAKE) --no-print-directory vm612-kernel; then $(MAKE) --no-print-directory vm612; \
	else echo "vm612: the $(VM612_SUITE) kernel could not be downloaded; the 6.12 guest suite will be skipped"; fi

$(VM612_RELEASE): test/vm/fetch-kernel.sh
	test/vm/fetch-kernel.sh $(VM612_KDIR) $(VM612_SUITE)

$(VM612_KERNEL): $(VM612_RELEASE) test/vm/extract-vmlinux.sh
	test/vm/extract-vmlinux.sh $(VM612_KDIR)/root/boot/vmlinuz-$$(cat $<) $@

$(VM612_INITRAMFS): $(VM612_RELEASE) /bin/busybox test/vm/init.sh test/vm/mkinitramfs.sh
	test/vm/mkinitramfs.sh $$(cat $<) test/vm/init.sh $@ $(VM612_KDIR)/root

# modules: the unpacked tree's lib/modules, bound into the guest by /init.
$(VM612_MANIFEST): $(VM612_KERNEL) $(VM612_INITRAMFS)
	@printf '{"release":"%s","kernel":"%s","initramfs":"%s","fixtures":"%s","modules":"%s"}\n' \
	  "$$(cat $(VM612_RELEASE))" '$(abspath $(VM612_KERNEL))' '$(abspath $(VM612_INITRAMFS))' '$(abspath $(VM_FIX))' \
	  '$(abspath $(VM612_KDIR)/root/lib/modules)' > $@
