/* wasi has no statfs. libbpf only uses it to check that a pin path is on
 * bpffs; pinning is done by the TypeScript runtime, so statfs fails (ENOSYS). */
#ifndef KB_SYS_VFS_H
#define KB_SYS_VFS_H
typedef struct { int val[2]; } fsid_t;
struct statfs { long f_type, f_bsize; unsigned long long f_blocks, f_bfree, f_bavail, f_files, f_ffree; fsid_t f_fsid; long f_namelen, f_frsize, f_flags, f_spare[4]; };
int statfs(const char *path, struct statfs *buf);
#endif
