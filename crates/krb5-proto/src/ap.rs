//! AP exchange (AP-REQ construction, AP-REP verification).
