// The command mounts through /dev/fuse and talks to its daemon over a Unix socket: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
