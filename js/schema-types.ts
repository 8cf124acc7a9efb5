/**
 * Types from JSON Schemas: `FromSchema<typeof spec>` is the union of document types a
 * `schema` option (`{typeField, types, others}`) describes, each narrowed by its type field.
 *
 * ```ts
 * const schema = {
 *   typeField: 'type',
 *   types: {
 *     message: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
 *     customer: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
 *   },
 * } as const;
 * const db = new Settee<FromSchema<typeof schema>>('hoptree', { schema });
 * const doc = await db.get('m1');
 * if (doc.type === 'message') doc.text; // string
 * ```
 *
 * What is inferred: `type` (and lists of types), `properties` with `required` (others are
 * optional), `const`, `enum`, `items`/`prefixItems`, `anyOf`/`oneOf` (a union), `allOf` (an
 * intersection), and `$ref` to `#/$defs/…` or `#/definitions/…` of the same type's schema.
 * Fields a schema does not declare are not in the type (even without
 * `additionalProperties: false`), so a misspelt field is a compile error. Anything else
 * (patterns, formats, bounds) is checked at run time only.
 * @module
 */

/** A JSON Schema, as far as the types look into it. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** The `schema` option: JSON Schemas by the value of a discriminating field. */
export interface SchemaSpec {
  /** The field whose value picks the schema (default `'type'`). */
  readonly typeField?: string;
  /** Draft 2020-12 (or draft-07) JSON Schemas, by type name. */
  readonly types: { readonly [type: string]: JsonSchema };
  /** Documents whose type has no schema: stored (`'allow'`, the default) or refused with 403. */
  readonly others?: 'allow' | 'reject';
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type TypeName<T> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? unknown[]
          : T extends 'object'
            ? Record<string, unknown>
            : never;

type DefsOf<S> = S extends { readonly $defs: infer D }
  ? D
  : S extends { readonly definitions: infer D }
    ? D
    : {};

type Required_<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;

type InferObject<S, D> = S extends { readonly properties: infer P }
  ? Simplify<
      { -readonly [K in keyof P as K extends Required_<S> ? K : never]: Infer<P[K], D> } & {
        -readonly [K in keyof P as K extends Required_<S> ? never : K]?: Infer<P[K], D>;
      }
    >
  : Record<string, unknown>;

type InferTuple<T, D> = T extends readonly [infer H, ...infer R] ? [Infer<H, D>, ...InferTuple<R, D>] : [];

type InferArray<S, D> = S extends { readonly prefixItems: infer P }
  ? [...InferTuple<P, D>, ...(S extends { readonly items: infer I } ? Infer<I, D>[] : unknown[])]
  : S extends { readonly items: infer I }
    ? Infer<I, D>[]
    : unknown[];

type AllOf<L, D> = L extends readonly [infer H, ...infer R] ? Infer<H, D> & AllOf<R, D> : unknown;

/** The TS type of the values a JSON Schema `S` accepts; `D` holds its `$defs`. */
export type Infer<S, D = DefsOf<S>> = S extends true
  ? unknown
  : S extends false
    ? never
    : S extends { readonly const: infer C }
      ? C
      : S extends { readonly enum: readonly (infer E)[] }
        ? E
        : S extends { readonly $ref: `#/${'$defs' | 'definitions'}/${infer N}` }
          ? N extends keyof D
            ? Infer<D[N], D>
            : unknown
          : S extends { readonly oneOf: readonly (infer U)[] }
            ? Infer<U, D>
            : S extends { readonly anyOf: readonly (infer U)[] }
              ? Infer<U, D>
              : S extends { readonly allOf: infer L }
                ? AllOf<L, D>
                : S extends { readonly type: 'object' } | { readonly properties: object }
                  ? InferObject<S, D>
                  : S extends { readonly type: 'array' }
                    ? InferArray<S, D>
                    : S extends { readonly type: infer T }
                      ? T extends readonly (infer U)[]
                        ? TypeName<U>
                        : TypeName<T>
                      : unknown;

type TypeFieldOf<S> = S extends { readonly typeField: infer F extends string } ? F : 'type';

/**
 * The union of document types a {@link SchemaSpec} describes (declared `as const`, or passed
 * to `Settee.withSchema`), each with its type field set to its type's name.
 */
export type FromSchema<Spec> = Spec extends { readonly types: infer T }
  ? {
      [K in keyof T & string]: Simplify<Infer<T[K]> & { [F in TypeFieldOf<Spec>]: K }>;
    }[keyof T & string]
  : never;
