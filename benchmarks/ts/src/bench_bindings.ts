// Bindings for the bench module (tests/fixtures/module_defs/bench.*), written by hand in the
// layout `spacetime generate --lang typescript` (2.x) emits: tables user, message, entity.
/* eslint-disable */
import {
  DbConnectionBuilder as __DbConnectionBuilder,
  DbConnectionImpl as __DbConnectionImpl,
  SubscriptionBuilderImpl as __SubscriptionBuilderImpl,
  procedures as __procedures,
  reducerSchema as __reducerSchema,
  reducers as __reducers,
  schema as __schema,
  table as __table,
  t as __t,
  type DbConnectionConfig as __DbConnectionConfig,
  type RemoteModule as __RemoteModule,
} from 'spacetimedb';

const UserRow = __t.row({
  identity: __t.identity().primaryKey(),
  name: __t.option(__t.string()),
  online: __t.bool(),
});
const MessageRow = __t.row({
  sender: __t.identity(),
  sent: __t.timestamp(),
  text: __t.string(),
});
const EntityRow = __t.row({
  id: __t.u64().primaryKey(),
  x: __t.f32(),
  y: __t.f32(),
  z: __t.f32(),
  hp: __t.u32(),
});
const TouchReducer = { id: __t.u64() };

const tablesSchema = __schema({
  user: __table(
    {
      name: 'user',
      indexes: [{ accessor: 'identity', name: 'user_identity_idx_btree', algorithm: 'btree', columns: ['identity'] }],
      constraints: [{ name: 'user_identity_key', constraint: 'unique', columns: ['identity'] }],
    },
    UserRow
  ),
  message: __table({ name: 'message', indexes: [], constraints: [] }, MessageRow),
  entity: __table(
    {
      name: 'entity',
      indexes: [{ accessor: 'id', name: 'entity_id_idx_btree', algorithm: 'btree', columns: ['id'] }],
      constraints: [{ name: 'entity_id_key', constraint: 'unique', columns: ['id'] }],
    },
    EntityRow
  ),
});

const reducersSchema = __reducers(__reducerSchema('touch', TouchReducer));
const proceduresSchema = __procedures();

const REMOTE_MODULE = {
  versionInfo: { cliVersion: '2.10.1' as const },
  tables: tablesSchema.schemaType.tables,
  reducers: reducersSchema.reducersType.reducers,
  ...proceduresSchema,
} satisfies __RemoteModule<
  typeof tablesSchema.schemaType,
  typeof reducersSchema.reducersType,
  typeof proceduresSchema
>;

export class SubscriptionBuilder extends __SubscriptionBuilderImpl<typeof REMOTE_MODULE> {}
export class DbConnectionBuilder extends __DbConnectionBuilder<DbConnection> {}
export class DbConnection extends __DbConnectionImpl<typeof REMOTE_MODULE> {
  static builder = (): DbConnectionBuilder =>
    new DbConnectionBuilder(
      REMOTE_MODULE,
      (config: __DbConnectionConfig<typeof REMOTE_MODULE>) => new DbConnection(config)
    );
  override subscriptionBuilder = (): SubscriptionBuilder => new SubscriptionBuilder(this);
}
