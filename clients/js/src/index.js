'use strict';
// @anjian/sync: the Anjian sync protocol for WeChat mini-programs (openapi/PROTOCOL.md).

module.exports = {
  ...require('./canonical'),
  ...require('./event'),
  ...require('./ids'),
  ...require('./digest'),
  ...require('./bytes'),
  ...require('./reasons'),
  ...require('./transport'),
  ...require('./device'),
};
