/**
 * Field `field` of a /proc/PID/stat (or /proc/PID/task/TID/stat) line, numbered as in proc(5)
 * (4 is the parent's pid, 19 the nice value, 22 the start time); from field 3 on. The command
 * name (field 2) is in parentheses and may hold spaces and parentheses itself, so the fields
 * are counted from the last ")".
 */
export function statField(text: string, field: number): string | undefined {
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[field - 3];
}
