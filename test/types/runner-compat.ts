/**
 * Compile-time proof that grammy-runner is a drop-in replacement for
 * @grammyjs/runner 2.x: code written against theirs must compile against ours.
 *
 * Direction matters. What a user builds and hands to us (options, suppliers,
 * consumers, hand-made sources and sinks) must be assignable from theirs to
 * ours; what we hand back (handles, sources, sinks, middleware) must be
 * assignable from ours to theirs; and each of our functions must be assignable
 * to the type of theirs, so any call that type-checked against theirs
 * type-checks against ours.
 *
 * `Checks` has one key per export of @grammyjs/runner. The value exports are
 * enforced below with `keyof typeof Theirs`; the type-only exports cannot be
 * listed at the type level, so `exports.mjs` compares the keys of `Checks`
 * with every export their .d.ts declares.
 *
 * `npm run typecheck` checks this file against src/ (it is part of the root
 * project) and runs `exports.mjs`; `npm run typecheck:dist` checks it against
 * the built dist/ with exactOptionalPropertyTypes (test/types/tsconfig.json).
 *
 * @module
 */
import type * as Theirs from "@grammyjs/runner";
import type { Api, Context } from "grammy";
import type * as Ours from "grammy-runner";

/** Fails to compile unless `From` is assignable to `To`. */
type Assignable<From extends To, To> = [From, To];

/** The public members of a class instance (`keyof` skips private ones). */
type Public<T> = Pick<T, keyof T>;

/** A constructor taking the arguments of class `K` and building a `T`. */
type ConstructorLike<K extends abstract new (...args: never) => unknown, T> = new (
  ...args: ConstructorParameters<K>
) => T;

/**
 * One entry per export of @grammyjs/runner. Generic in the update type `Y`,
 * the error type `R`, the context `C` and the API `A`, so each check holds for
 * every instantiation, not only for grammY's `Update`. `Y` is as unconstrained
 * as it is in theirs, so a constraint added to one of our types fails here.
 */
export interface Checks<Y, R, C extends Context, A extends Api> {
  // Functions: ours is usable wherever theirs was.
  run: Assignable<typeof Ours.run, typeof Theirs.run>;
  createRunner: Assignable<typeof Ours.createRunner, typeof Theirs.createRunner>;
  createUpdateFetcher: Assignable<
    typeof Ours.createUpdateFetcher,
    typeof Theirs.createUpdateFetcher
  >;
  createSource: Assignable<typeof Ours.createSource, typeof Theirs.createSource>;
  createConcurrentSink: Assignable<
    typeof Ours.createConcurrentSink,
    typeof Theirs.createConcurrentSink
  >;
  createSequentialSink: Assignable<
    typeof Ours.createSequentialSink,
    typeof Theirs.createSequentialSink
  >;
  createBatchSink: Assignable<typeof Ours.createBatchSink, typeof Theirs.createBatchSink>;
  sequentialize: Assignable<typeof Ours.sequentialize, typeof Theirs.sequentialize>;
  distribute: Assignable<typeof Ours.distribute, typeof Theirs.distribute>;

  // Classes: ours is constructible with their arguments (any overload of ours
  // may match) and builds an object with their public members. Private members
  // make class types nominal, so the instance types cannot be compared whole.
  DecayingDeque: Assignable<
    typeof Ours.DecayingDeque<Y, R>,
    ConstructorLike<typeof Theirs.DecayingDeque<Y, R>, Public<Theirs.DecayingDeque<Y, R>>>
  >;
  BotWorker: Assignable<
    typeof Ours.BotWorker<C, A>,
    ConstructorLike<typeof Theirs.BotWorker<C, A>, Theirs.BotWorker<C, A>>
  >;

  // Inputs the user writes: theirs is accepted where ours is expected.
  RunOptions: Assignable<Theirs.RunOptions<Y>, Ours.RunOptions<Y>>;
  RunnerOptions: Assignable<Theirs.RunnerOptions, Ours.RunnerOptions>;
  FetchOptions: Assignable<Theirs.FetchOptions, Ours.FetchOptions>;
  SourceOptions: Assignable<Theirs.SourceOptions, Ours.SourceOptions>;
  SinkOptions: Assignable<Theirs.SinkOptions<Y>, Ours.SinkOptions<Y>>;
  UpdateSupplier: Assignable<Theirs.UpdateSupplier<Y>, Ours.UpdateSupplier<Y>>;
  UpdateConsumer: Assignable<Theirs.UpdateConsumer<Y>, Ours.UpdateConsumer<Y>>;

  // Outputs: what we return is usable where theirs was.
  RunnerHandle: Assignable<Ours.RunnerHandle, Theirs.RunnerHandle>;

  // Both: returned by our factories, and also written by hand and passed to
  // `createRunner`.
  UpdateSource: [
    Assignable<Ours.UpdateSource<Y>, Theirs.UpdateSource<Y>>,
    Assignable<Theirs.UpdateSource<Y>, Ours.UpdateSource<Y>>,
  ];
  UpdateSink: [
    Assignable<Ours.UpdateSink<Y>, Theirs.UpdateSink<Y>>,
    Assignable<Theirs.UpdateSink<Y>, Ours.UpdateSink<Y>>,
  ];
}

/**
 * Every value export of theirs has an entry (types: see `exports.mjs`).
 * `default` is not an export of theirs: it is the whole CommonJS
 * `module.exports`, which Node's ESM loader offers as a default import.
 */
export type ValuesCovered = Assignable<
  Exclude<keyof typeof Theirs, "default">,
  keyof Checks<unknown, unknown, Context, Api>
>;
