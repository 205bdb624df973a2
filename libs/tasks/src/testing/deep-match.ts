/** A matcher of Jest's or Vitest's `expect` (`expect.any(String)`, `expect.stringContaining('a')`, ...). */
interface AsymmetricMatcher {
  asymmetricMatch(other: unknown): boolean;
}

/**
 * `T` with every field optional, at any depth: what a job's payload is
 * matched against. An array matches an array of the same length whose items
 * match one by one. Jest's and Vitest's asymmetric matchers fit anywhere.
 */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

function isMatcher(value: unknown): value is AsymmetricMatcher {
  return typeof value === 'object' && value !== null && typeof (value as Partial<AsymmetricMatcher>).asymmetricMatch === 'function';
}

/**
 * Whether `actual` has everything `expected` has: objects may have more
 * fields, arrays must be as long, other values must be equal (`Object.is`).
 */
export function matchesPartially(actual: unknown, expected: unknown): boolean {
  if (isMatcher(expected)) return expected.asymmetricMatch(actual);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((item, i) => matchesPartially(actual[i], item));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([key, value]) =>
      value === undefined ? (actual as Record<string, unknown>)[key] === undefined : key in actual && matchesPartially((actual as Record<string, unknown>)[key], value),
    );
  }
  return Object.is(actual, expected);
}

/** A match or a payload as a message shows it: JSON, with matchers by their own names, cut at 200 characters. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text =
      JSON.stringify(value, (_key, inner: unknown) => {
        if (!isMatcher(inner)) return inner;
        const named = inner as AsymmetricMatcher & { toAsymmetricMatcher?: () => string; toString(): string };
        return typeof named.toAsymmetricMatcher === 'function' ? named.toAsymmetricMatcher() : named.toString();
      }) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
