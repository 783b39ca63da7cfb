/** A JSON answer as the long-form tests read it: its status and its body ({} when empty). */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
