// runtime/sys: thin koffi bindings, one module per concern.
export * from './libc.js';
export * from './fd.js';
export * from './proc.js';
export * from './cpu-list.js';
export * from './mman.js';
export * from './perf-event.js';
export * from './ioctl.js';
export * from './epoll.js';
export * from './bpf.js';
export * from './bpf-map.js';
