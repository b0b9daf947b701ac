/** Does nothing: the handler for a promise whose outcome is reported elsewhere. */
export function noop(): void {}
