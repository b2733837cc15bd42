// Where the mini-program finds the Anjian server. In WeChat DevTools against a local
// `anjian-server demo`, tick 「不校验合法域名」 and use http://127.0.0.1:8080; a published
// mini-program needs the town's HTTPS domain, registered as a 合法域名 for request, uploadFile
// and downloadFile.
module.exports = {
  server: 'http://127.0.0.1:8080',
  // In DevTools against the demo town, whose server has no WeChat app configured, sign in with a
  // demo user's name and password instead of wx.login. Set to false before publishing.
  passwordSignIn: true,
};
