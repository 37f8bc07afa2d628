/** The fleet's capacity floors in Redis keep the highest measure of the last hour (upstream/capacity-floors.ts). */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, type TestRedis } from '@flashsale/testkit'
import { CAPACITY_FLOORS_KEY, raiseCapacityFloors, readCapacityFloors } from '../../src/upstream/capacity-floors.ts'

describe('capacity floors shared through Redis', () => {
  let r: TestRedis
  before(async () => (r = await createTestRedis('floors')))
  after(() => r.cleanup())

  it('an idle window (floor 1) never lowers what a sale measured; a higher measure raises it; a restart reads the highest', async () => {
    assert.deepEqual(await readCapacityFloors(r.redis), {}, 'nothing measured yet')
    assert.equal(await raiseCapacityFloors(r.redis, { order: 40, catalog: 8 }), 2)
    // Between sales the measuring window sees no traffic: its floor falls to 1, which says nothing of capacity.
    assert.equal(await raiseCapacityFloors(r.redis, { order: 1, catalog: 1 }), 0)
    assert.deepEqual(await readCapacityFloors(r.redis), { order: 40, catalog: 8 })
    assert.equal(await raiseCapacityFloors(r.redis, { order: 55, catalog: 0 }), 1)
    assert.deepEqual(await readCapacityFloors(r.redis), { order: 55, catalog: 8 })
  })

  it('the hash expires a TTL after it was last raised, not after it was last written', async () => {
    await r.redis.del(CAPACITY_FLOORS_KEY)
    await raiseCapacityFloors(r.redis, { order: 10 }, 60_000)
    await r.redis.pexpire(CAPACITY_FLOORS_KEY, 5_000) // as if most of the hour had gone by
    await raiseCapacityFloors(r.redis, { order: 3 }, 60_000)
    assert.ok((await r.redis.pttl(CAPACITY_FLOORS_KEY)) <= 5_000, 'a lower measure does not keep an old high alive')
    await raiseCapacityFloors(r.redis, { order: 12 }, 60_000)
    assert.ok((await r.redis.pttl(CAPACITY_FLOORS_KEY)) > 5_000, 'a new high does')
  })
})
