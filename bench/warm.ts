export async function warm(_options: { seconds: number; rounds: number }): Promise<void> {
  throw new Error('not yet');
}
