// A throwaway AT Protocol server pair for Kairos' tests: an in-memory PLC directory
// (@did-plc/server) and a Personal Data Server (@atproto/pds), both on 127.0.0.1 only.
//
// Run by tests/plugins/bluesky_server.py with NODE_PATH pointing at the cached npm install:
//
//   node bluesky_pds.js <data-directory> [--rate-limits]
//
// Prints ONE line of JSON on stdout once both answer:
//   {"ready": true, "pds": "http://127.0.0.1:P", "plc": "http://127.0.0.1:Q",
//    "jwt_secret": "...", "admin_password": "...", "service_did": "did:web:localhost"}
// and stops cleanly on SIGTERM or SIGINT (or when its stdin closes, so an orphan never lingers).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const events = require('node:events')

const pds = require('@atproto/pds')
const plc = require('@did-plc/server')

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

function secp256k1PrivateKeyHex() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  const d = privateKey.export({ format: 'jwk' }).d
  return Buffer.from(d, 'base64url').toString('hex').padStart(64, '0')
}

async function listenOnLoopback(app, port) {
  const server = app.listen(port, '127.0.0.1')
  await events.once(server, 'listening')
  return server
}

async function main() {
  const dataDir = process.argv[2]
  if (!dataDir) throw new Error('usage: node bluesky_pds.js <data-directory> [--rate-limits]')
  const rateLimits = process.argv.includes('--rate-limits')
  fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true })

  // PLC: an in-memory directory of DIDs; PlcServer.start() would listen on every interface.
  const plcPort = await freePort()
  const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: plcPort })
  const plcHttp = await listenOnLoopback(plcServer.app, plcPort)
  const plcUrl = `http://127.0.0.1:${plcPort}`

  const port = await freePort()
  const jwtSecret = crypto.randomBytes(24).toString('hex')
  const adminPassword = crypto.randomBytes(12).toString('hex')
  const env = {
    ...pds.readEnv(),
    port,
    hostname: 'localhost',
    devMode: true,
    inviteRequired: false,
    didPlcUrl: plcUrl,
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    jwtSecret,
    adminPassword,
    plcRotationKeyK256PrivateKeyHex: secp256k1PrivateKeyHex(),
    serviceHandleDomains: ['.test'],
    rateLimitsEnabled: rateLimits,
    // Blobs up to 5 MB so a test can send Bluesky's 1 MB images and more.
    blobUploadLimit: 5 * 1024 * 1024,
    crawlers: [],
  }
  const cfg = pds.envToCfg(env)
  const secrets = pds.envToSecrets(env)
  const server = await pds.PDS.create(cfg, secrets)
  // What PDS.start() does, but bound to 127.0.0.1 only.
  await server.ctx.sequencer.start()
  const pdsHttp = await listenOnLoopback(server.app, port)
  server.server = pdsHttp

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    const close = (http) => new Promise((resolve) => http.close(() => resolve()))
    if (typeof pdsHttp.closeAllConnections === 'function') pdsHttp.closeAllConnections()
    if (typeof plcHttp.closeAllConnections === 'function') plcHttp.closeAllConnections()
    await Promise.race([
      Promise.all([close(pdsHttp), close(plcHttp)]),
      new Promise((resolve) => setTimeout(resolve, 3000)),
    ])
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop)
  process.stdin.on('error', stop)
  process.stdin.resume()

  process.stdout.write(
    JSON.stringify({
      ready: true,
      pds: `http://127.0.0.1:${port}`,
      plc: plcUrl,
      jwt_secret: jwtSecret,
      admin_password: adminPassword,
      service_did: cfg.service.did,
    }) + '\n',
  )
}

main().catch((err) => {
  process.stderr.write(`bluesky_pds.js failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
