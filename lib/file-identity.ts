// Which file a path names, as the kernel compares uprobe places (d_real_inode):
// the device and inode stat(2) gives, so a symlink or hard link is the same file.
import { statSync } from 'node:fs';

/** A path's file: "dev:ino", or the path itself when it cannot be read (it is then only itself). */
export type FileIdentity = (path: string) => string;

/** fileIdentity with each path stat'ed once (one input, or one diagnosis, compares the same paths again and again). */
export function fileIdentityOncePerPath(): FileIdentity {
  const seen = new Map<string, string>();
  return (path) => {
    let id = seen.get(path);
    if (id === undefined) {
      const st = statSync(path, { throwIfNoEntry: false, bigint: true });
      seen.set(path, (id = st ? `${st.dev}:${st.ino}` : `path:${path}`));
    }
    return id;
  };
}
