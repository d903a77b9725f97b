// The runtime names files by their paths in its own mount namespace: its Node binary, its
// addon, each function's binary; its workers map files by the same paths. Beside the agent on
// one host those paths are the agent's too. From another container (the agent's pod beside the
// runtime's, see deploy/) they are not: the same files are reached through /proc/PID/root, the
// process's root directory as the kernel sees it. Opening that needs ptrace read access to the
// process: CAP_SYS_PTRACE when it holds capabilities the agent lacks.
import fs from 'node:fs';
import path from 'node:path';

export class ProcessRoot {
  private constructor(
    /** What paths of the process are prefixed with to open here: '' when they open as they are. */
    readonly prefix: string,
    /** How that was decided, for the log. */
    readonly reason: string,
  ) {}

  /** Paths that open as they are: the agent's own view. */
  static readonly OWN = new ProcessRoot('', 'the agent\'s own mount namespace');

  /** Where the files process `pid` names open from here. */
  static of(pid: number, procRoot = '/proc'): ProcessRoot {
    let theirs: string;
    try {
      theirs = fs.readlinkSync(path.join(procRoot, String(pid), 'ns', 'mnt'));
    } catch (error) {
      return new ProcessRoot('', `cannot tell whether process ${pid} shares the agent's mount namespace (${(error as Error).message}): its paths are opened as they are`);
    }
    if (theirs === fs.readlinkSync(path.join(procRoot, 'self', 'ns', 'mnt'))) return new ProcessRoot('', `process ${pid} shares the agent's mount namespace`);
    const root = path.join(procRoot, String(pid), 'root');
    return new ProcessRoot(root, `process ${pid} runs in another mount namespace (another container): its files are opened through ${root}`);
  }

  /** `file`, an absolute path as the process sees it, as the agent opens it. */
  path(file: string): string {
    return this.prefix === '' || !path.isAbsolute(file) ? file : this.prefix + file;
  }
}
