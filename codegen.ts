/**
 * GraphQL Code Generator: resolver types for the gateway (with mappers to internal models) and typed documents
 * for consumers (client preset). Run with `npm run codegen`; output is never edited by hand.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  overwrite: true,
  generates: {
    'src/graphql/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useIndexSignature: true,
        contextType: '../context#GatewayContext',
        enumsAsTypes: true,
        scalars: { DateTime: 'string' },
        mappers: {
          FeatureSnapshot: '../models#SnapshotModel',
          FeaturesError: '../models#FeaturesErrorModel',
          PartitionHealth: '../models#PartitionHealthModel',
        },
        resolversNonOptionalTypename: { unionMember: true },
      },
    },
    'examples/generated/': {
      documents: ['examples/**/*.graphql'],
      preset: 'client',
      config: { enumsAsTypes: true, scalars: { DateTime: 'string' }, useTypeImports: true },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
