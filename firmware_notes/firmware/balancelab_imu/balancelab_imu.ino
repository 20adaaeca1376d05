// balancelab IMU profile v1 — reference firmware (see ../../diy_profile.md).
//
// Board: Seeed Studio XIAO nRF52840 Sense (on-board LSM6DS3TR-C on the internal I2C bus).
// Core:  "Seeed nRF52 Boards" (Adafruit Bluefruit nRF52 based, NOT the mbed core).
// Not compiled in balancelab's CI: keep it faithful to the spec and check it on hardware
// (`balancelab scan`, then `balancelab stream`: rate within 1 % of the ODR, loss 0).
//
// Timing model: the IMU's own ODR clock paces sampling (its FIFO, continuous mode); the loop
// drains the FIFO every few ms, numbers every sample (the index is the ground truth) and
// stamps it with micros() back-computed from the drain time. Samples wait in a ring buffer
// until a notification can be queued; if the ring overflows the oldest are dropped and the
// next packet carries OVERRUN (the index gap tells the host how many).

#include <bluefruit.h>
#include <Wire.h>

// ---------------------------------------------------------------- profile constants
// UUIDs c8dbXXXX-135f-46ce-8a83-c3ea02b7428d, bytes least significant first for Bluefruit.
#define BL_UUID(alias) { 0x8d, 0x42, 0xb7, 0x02, 0xea, 0xc3, 0x83, 0x8a, \
                         0xce, 0x46, 0x5f, 0x13, (alias) & 0xff, (alias) >> 8, 0xdb, 0xc8 }
static const uint8_t UUID_SERVICE[16] = BL_UUID(0x0001);
static const uint8_t UUID_DATA[16]    = BL_UUID(0x0002);
static const uint8_t UUID_CONFIG[16]  = BL_UUID(0x0003);
static const uint8_t UUID_CAPS[16]    = BL_UUID(0x0004);
static const uint8_t UUID_CLOCK[16]   = BL_UUID(0x0005);

static const uint8_t VERSION = 1;
static const uint8_t FLAG_GYRO = 0x01, FLAG_OVERRUN = 0x02, FLAG_RESTART = 0x04;
static const size_t HEADER_SIZE = 8, SAMPLE_SIZE = 12;

BLEService imuService(UUID_SERVICE);
BLECharacteristic dataChar(UUID_DATA);
BLECharacteristic configChar(UUID_CONFIG);
BLECharacteristic capsChar(UUID_CAPS);
BLECharacteristic clockChar(UUID_CLOCK);
BLEDis bledis;
BLEBas blebas;

// ---------------------------------------------------------------- LSM6DS3TR-C registers
#define IMU_ADDR 0x6A
#define REG_FIFO_CTRL1 0x06
#define REG_FIFO_CTRL2 0x07
#define REG_FIFO_CTRL3 0x08
#define REG_FIFO_CTRL5 0x0A
#define REG_CTRL1_XL 0x10
#define REG_CTRL2_G 0x11
#define REG_CTRL3_C 0x12
#define REG_FIFO_STATUS1 0x3A
#define REG_FIFO_STATUS3 0x3C
#define REG_FIFO_DATA_OUT_L 0x3E

struct Config {            // mirrors the 16-byte Config characteristic
  uint16_t odr_dhz;
  uint8_t acc_range_g;
  uint8_t samples_per_packet;
  uint16_t gyro_range_dps;
  uint8_t reserved[2];
  float acc_lsb_g;
  float gyro_lsb_dps;
} __attribute__((packed));
static_assert(sizeof(Config) == 16, "Config must be 16 bytes");

Config config = {1040, 8, 5, 2000, {0, 0}, 0.0f, 0.0f};

struct Sample { int16_t v[6]; uint32_t t_us; };   // ax ay az gx gy gz (profile order)
static const uint16_t RING = 512;                  // 2.5 s at 208 Hz
Sample ring[RING];
uint16_t ringHead = 0, ringCount = 0;
uint16_t nextIndex = 0;      // index of the next sample produced (mod 65536)
uint16_t ringFirstIndex = 0; // index of ring[oldest]
bool overrun = false, restart = true, streaming = false;
// BLE callbacks run in their own task: they only set these; loop() applies them.
volatile bool restartPending = false, indicatePending = false;
uint16_t connHandle = BLE_CONN_HANDLE_INVALID;

// ---------------------------------------------------------------- IMU access
void imuWrite(uint8_t reg, uint8_t value) {
  Wire1.beginTransmission(IMU_ADDR); Wire1.write(reg); Wire1.write(value); Wire1.endTransmission();
}

void imuRead(uint8_t reg, uint8_t *out, size_t n) {
  Wire1.beginTransmission(IMU_ADDR); Wire1.write(reg); Wire1.endTransmission(false);
  Wire1.requestFrom(IMU_ADDR, n);
  for (size_t i = 0; i < n && Wire1.available(); i++) out[i] = Wire1.read();
}

// Round a request to what the part supports and fill the exact sensitivities (datasheet).
void applyConfig() {
  uint8_t odrBits = config.odr_dhz >= 1560 ? 0x5 : 0x4;            // 208 Hz or 104 Hz
  config.odr_dhz = odrBits == 0x5 ? 2080 : 1040;
  uint8_t fsXl; float accLsb;
  if (config.acc_range_g <= 2)      { config.acc_range_g = 2;  fsXl = 0x0; accLsb = 0.061e-3f; }
  else if (config.acc_range_g <= 4) { config.acc_range_g = 4;  fsXl = 0x2; accLsb = 0.122e-3f; }
  else if (config.acc_range_g <= 8) { config.acc_range_g = 8;  fsXl = 0x3; accLsb = 0.244e-3f; }
  else                              { config.acc_range_g = 16; fsXl = 0x1; accLsb = 0.488e-3f; }
  uint8_t fsG; float gyroLsb;
  if (config.gyro_range_dps <= 250)       { config.gyro_range_dps = 250;  fsG = 0x0; gyroLsb = 8.75e-3f; }
  else if (config.gyro_range_dps <= 500)  { config.gyro_range_dps = 500;  fsG = 0x1; gyroLsb = 17.5e-3f; }
  else if (config.gyro_range_dps <= 1000) { config.gyro_range_dps = 1000; fsG = 0x2; gyroLsb = 35.0e-3f; }
  else                                    { config.gyro_range_dps = 2000; fsG = 0x3; gyroLsb = 70.0e-3f; }
  // v1 of this firmware always streams the gyro (gyro_range_dps = 0 is rounded up to 250).
  uint8_t maxFit = (Bluefruit.getMaxMtu(BLE_GAP_ROLE_PERIPH) - 3 - HEADER_SIZE) / SAMPLE_SIZE;
  if (config.samples_per_packet == 0 || config.samples_per_packet > maxFit) {
    config.samples_per_packet = maxFit;
  }
  config.acc_lsb_g = accLsb;
  config.gyro_lsb_dps = gyroLsb;

  imuWrite(REG_FIFO_CTRL5, 0x00);                          // FIFO bypass: clears it
  imuWrite(REG_CTRL3_C, 0x44);                             // BDU, address auto-increment
  imuWrite(REG_CTRL1_XL, (odrBits << 4) | (fsXl << 2));
  imuWrite(REG_CTRL2_G, (odrBits << 4) | (fsG << 2));
  imuWrite(REG_FIFO_CTRL3, 0x09);                          // gyro and acc in FIFO, no decimation
  imuWrite(REG_FIFO_CTRL5, (odrBits << 3) | 0x06);         // FIFO ODR = ODR, continuous mode
  ringCount = 0; nextIndex = 0; ringFirstIndex = 0; overrun = false; restart = true;
  configChar.write(&config, sizeof(config));
}

// Drain whole samples (6 words: Gx Gy Gz XLx XLy XLz) from the FIFO into the ring.
void drainFifo() {
  uint8_t status[4];
  imuRead(REG_FIFO_STATUS1, status, 4);
  uint16_t words = status[0] | ((status[1] & 0x07) << 8);
  uint16_t pattern = status[2] | ((status[3] & 0x03) << 8);
  while (pattern != 0 && words > 0) {                      // realign to a sample boundary
    uint8_t skip[2]; imuRead(REG_FIFO_DATA_OUT_L, skip, 2); words--;
    pattern = (pattern + 1) % 6;
  }
  uint16_t n = words / 6;
  uint32_t nowUs = micros();
  uint32_t periodUs = 10000000UL / config.odr_dhz;         // 1 / ODR in µs
  for (uint16_t k = 0; k < n; k++) {
    uint8_t raw[12];
    imuRead(REG_FIFO_DATA_OUT_L, raw, 12);
    Sample s;
    int16_t w[6];
    for (int i = 0; i < 6; i++) w[i] = (int16_t)(raw[2 * i] | (raw[2 * i + 1] << 8));
    s.v[0] = w[3]; s.v[1] = w[4]; s.v[2] = w[5];           // acc first in the profile
    s.v[3] = w[0]; s.v[4] = w[1]; s.v[5] = w[2];
    s.t_us = nowUs - (uint32_t)(n - 1 - k) * periodUs;     // the last one was just taken
    pushSample(s);
  }
}

void pushSample(const Sample &s) {
  if (ringCount == RING) {                                 // drop the oldest, tell the host
    ringHead = (ringHead + 1) % RING; ringCount--; ringFirstIndex++; overrun = true;
  }
  ring[(ringHead + ringCount) % RING] = s;
  if (ringCount == 0) ringFirstIndex = nextIndex;
  ringCount++;
  nextIndex++;
}

// Send as many full packets as the TX queue takes; keep the rest for the next loop.
void sendPackets() {
  uint8_t perPacket = config.samples_per_packet;
  while (streaming && ringCount >= perPacket) {
    uint8_t buf[HEADER_SIZE + 19 * SAMPLE_SIZE];
    const Sample &first = ring[ringHead];
    buf[0] = (VERSION << 4) | FLAG_GYRO | (overrun ? FLAG_OVERRUN : 0) | (restart ? FLAG_RESTART : 0);
    buf[1] = perPacket;
    memcpy(buf + 2, &ringFirstIndex, 2);
    memcpy(buf + 4, &first.t_us, 4);
    for (uint8_t k = 0; k < perPacket; k++) {
      memcpy(buf + HEADER_SIZE + k * SAMPLE_SIZE, ring[(ringHead + k) % RING].v, SAMPLE_SIZE);
    }
    if (!dataChar.notify(buf, HEADER_SIZE + perPacket * SAMPLE_SIZE)) return;  // queue full
    ringHead = (ringHead + perPacket) % RING;
    ringCount -= perPacket;
    ringFirstIndex += perPacket;
    overrun = false; restart = false;
  }
}

// ---------------------------------------------------------------- BLE callbacks
void onCccd(uint16_t conn, BLECharacteristic *chr, uint16_t value) {
  if (chr->uuid == dataChar.uuid) {
    streaming = chr->notifyEnabled(conn);
    if (streaming) restartPending = true;                  // new stream: index 0, RESTART
  }
}

void onConfigWrite(uint16_t conn, BLECharacteristic *chr, uint8_t *data, uint16_t len) {
  if (len != sizeof(Config)) return;
  Config requested; memcpy(&requested, data, sizeof(Config));
  config.odr_dhz = requested.odr_dhz;
  config.acc_range_g = requested.acc_range_g;
  config.samples_per_packet = requested.samples_per_packet;
  config.gyro_range_dps = requested.gyro_range_dps;
  restartPending = true;                                   // loop() rounds, restarts,
  indicatePending = true;                                  // writes back and indicates
}

void onClockRead(uint16_t conn, BLECharacteristic *chr, ble_gatts_evt_read_t *request) {
  static uint32_t lastMicros = 0, wraps = 0;
  uint32_t now = micros();
  if (now < lastMicros) wraps++;
  lastMicros = now;
  uint64_t us = ((uint64_t)wraps << 32) | now;
  chr->write(&us, 8);
}

void onConnect(uint16_t conn) {
  connHandle = conn;
  BLEConnection *c = Bluefruit.Connection(conn);
  c->requestPHY();                                         // 2M if the central offers it
  c->requestDataLengthUpdate();                            // DLE 251
  c->requestMtuExchange(247);
}

void onDisconnect(uint16_t conn, uint8_t reason) {
  streaming = false; connHandle = BLE_CONN_HANDLE_INVALID;
}

// ---------------------------------------------------------------- setup / loop
void setupBle() {
  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);            // MTU 247, large TX queue
  Bluefruit.begin();
  Bluefruit.setTxPower(4);
  Bluefruit.setName("balancelab-IMU");
  Bluefruit.Periph.setConnInterval(12, 24);                // 15–30 ms (1.25 ms units)
  Bluefruit.Periph.setConnSupervisionTimeout(400);         // 4 s (10 ms units)
  Bluefruit.Periph.setConnectCallback(onConnect);
  Bluefruit.Periph.setDisconnectCallback(onDisconnect);

  bledis.setManufacturer("balancelab DIY");
  bledis.setModel("XIAO nRF52840 Sense + LSM6DS3TR-C");
  bledis.setHardwareRev("1");
  bledis.setFirmwareRev("profile-1 fw-1.0.0");
  bledis.begin();
  blebas.begin();

  imuService.begin();
  dataChar.setProperties(CHR_PROPS_NOTIFY);
  dataChar.setPermission(SECMODE_NO_ACCESS, SECMODE_NO_ACCESS);   // notify only, no reads
  dataChar.setMaxLen(244);
  dataChar.setCccdWriteCallback(onCccd);
  dataChar.begin();

  configChar.setProperties(CHR_PROPS_READ | CHR_PROPS_WRITE | CHR_PROPS_INDICATE);
  configChar.setPermission(SECMODE_OPEN, SECMODE_OPEN);
  configChar.setFixedLen(sizeof(Config));
  configChar.setWriteCallback(onConfigWrite);
  configChar.begin();

  capsChar.setProperties(CHR_PROPS_READ);
  capsChar.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  capsChar.setMaxLen(512);
  capsChar.begin();
  const char caps[] = "{\"profile\":1,\"imu\":\"LSM6DS3TR-C\",\"odr_dhz\":[1040,2080],"
                      "\"acc_range_g\":[2,4,8,16],\"gyro_range_dps\":[250,500,1000,2000],"
                      "\"axes\":\"x-right,y-forward,z-up (board top)\",\"fifo_samples\":682}";
  capsChar.write(caps, strlen(caps));

  clockChar.setProperties(CHR_PROPS_READ);
  clockChar.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  clockChar.setFixedLen(8);
  clockChar.setReadAuthorizeCallback(onClockRead);
  clockChar.begin();

  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addService(imuService);            // the 128-bit UUID (18 bytes)
  Bluefruit.ScanResponse.addName();                        // the name goes in the scan response
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244);              // 20 ms fast, 152.5 ms slow
  Bluefruit.Advertising.setFastTimeout(30);
  Bluefruit.Advertising.start(0);
}

void setup() {
  pinMode(PIN_LSM6DS3TR_C_POWER, OUTPUT);
  digitalWrite(PIN_LSM6DS3TR_C_POWER, HIGH);               // the Sense powers its IMU from a pin
  delay(20);
  Wire1.begin();
  Wire1.setClock(400000);
  setupBle();
  applyConfig();
}

uint32_t lastBatteryMs = 0;

void loop() {
  if (restartPending) {
    restartPending = false;
    applyConfig();
    if (indicatePending) { indicatePending = false; configChar.indicate(&config, sizeof(config)); }
  }
  if (streaming) {
    drainFifo();
    sendPackets();
  }
  if (millis() - lastBatteryMs > 30000) {                  // battery every 30 s
    lastBatteryMs = millis();
    blebas.write(readBatteryPercent());
  }
  delay(2);                                                // FIFO holds 682 words (~0.5 s at 208 Hz)
}

// XIAO nRF52840: battery through a divider on PIN_VBAT, enabled by pulling VBAT_ENABLE low.
uint8_t readBatteryPercent() {
  pinMode(VBAT_ENABLE, OUTPUT);
  digitalWrite(VBAT_ENABLE, LOW);
  analogReference(AR_INTERNAL_2_4);
  analogReadResolution(12);
  float volts = analogRead(PIN_VBAT) * 2.4f / 4096.0f * (1510.0f / 510.0f);
  float percent = (volts - 3.3f) / (4.2f - 3.3f) * 100.0f;   // crude linear LiPo curve
  return (uint8_t)constrain(percent, 0.0f, 100.0f);
}
