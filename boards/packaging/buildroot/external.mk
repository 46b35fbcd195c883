include $(sort $(wildcard $(BR2_EXTERNAL_RINGTAP_PATH)/package/*/*.mk))
